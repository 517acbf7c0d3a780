-- DfE school-level pupils, suspensions and permanent exclusions per LSOA 2021 × academic year:
-- each school's published row placed in the LSOA the schools register gives for it (by URN, or
-- for older releases without URNs by LA establishment number), the register's LSOA code read in
-- either vintage (a 2011 code goes to the LSOA 2021 holding most of it: a school stands in one
-- place). Schools the register does not place count nowhere below their authority. Null when any
-- school in the LSOA had its figure withheld (older releases show 1 or 2 as x): never the sum of
-- the others.
with register as (
    select school_urn, school_laestab, lsoa21_code
    from ({{ lsoa21_translated(ref('stg_dfe__school_register')) }})
    where lsoa21_code is not null
    qualify row_number() over (partition by school_urn order by record_weight desc, lsoa21_code asc) = 1
),

schools as (
    select * from {{ ref('stg_dfe__exclusions') }}
    where geographic_level = 'School' and time_identifier = 'Academic year'
),

placed as (
    select s.*, coalesce(by_urn.lsoa21_code, by_laestab.lsoa21_code) as lsoa21_code
    from schools as s
    left join register as by_urn on by_urn.school_urn = s.school_urn
    left join register as by_laestab on s.school_urn is null and by_laestab.school_laestab = s.school_laestab
)

select
    lsoa21_code,
    academic_year_start                                                     as period_start,
    count(*)                                                                as schools,
    case when count(*) = count(headcount) then sum(headcount) end          as headcount,
    case when count(*) = count(perm_excl) then sum(perm_excl) end          as perm_excl,
    string_agg(distinct perm_excl_status, ',')                             as perm_excl_status,
    case when count(*) = count(suspension) then sum(suspension) end        as suspension,
    string_agg(distinct suspension_status, ',')                            as suspension_status
from placed
where lsoa21_code is not null
group by all
