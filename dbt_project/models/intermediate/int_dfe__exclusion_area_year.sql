-- DfE pupils, suspensions and permanent exclusions (all phases) per area × academic year, at the
-- levels the release publishes: each current county or unitary authority (its published rows
-- placed by int_dfe__local_authority_year; several predecessors wholly inside it add up), and
-- the release's own regional and national rows as given. Regions and England are never summed
-- from authorities here: the release has them whole even when the warehouse holds one force's
-- areas. A figure withheld (a symbol) in any row summed leaves the sum null, never a partial
-- total; its status column lists the symbols.
with totals as (
    select * from {{ ref('stg_dfe__exclusions') }}
    where time_identifier = 'Academic year' and phase = 'total'
),

authorities as (
    select
        'utla'                                                                     as area_type,
        l.utla_code                                                                as area_code,
        t.academic_year_start                                                      as period_start,
        case when count(*) = count(t.headcount) then sum(t.headcount) end          as headcount,
        string_agg(distinct t.headcount_status, ',')                               as headcount_status,
        case when count(*) = count(t.perm_excl) then sum(t.perm_excl) end          as perm_excl,
        string_agg(distinct t.perm_excl_status, ',')                               as perm_excl_status,
        case when count(*) = count(t.suspension) then sum(t.suspension) end        as suspension,
        string_agg(distinct t.suspension_status, ',')                              as suspension_status,
        count(*)                                                                   as rows_published
    from totals as t
    join {{ ref('int_dfe__local_authority_year') }} as l
        on l.new_la_code = t.new_la_code and l.academic_year_start = t.academic_year_start
    where t.geographic_level = 'Local authority' and l.utla_code is not null
    group by all
),

published_totals as (
    select
        case geographic_level when 'Regional' then 'region' else 'country' end     as area_type,
        case geographic_level when 'Regional' then region_code else country_code end as area_code,
        academic_year_start                                                        as period_start,
        headcount, headcount_status, perm_excl, perm_excl_status, suspension, suspension_status,
        1                                                                          as rows_published
    from totals
    -- older releases split London into Inner and Outer London (E13): not a region of the
    -- platform's, so those two rows are left out rather than added together
    where (geographic_level = 'Regional' and region_code like 'E12%')
       or (geographic_level = 'National' and country_code is not null)
)

select * from authorities
union all
select * from published_totals
