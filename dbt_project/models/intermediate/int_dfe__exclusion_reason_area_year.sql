-- DfE suspensions and permanent exclusions for violent reasons per area × academic year, at the
-- levels the release publishes (as int_dfe__exclusion_area_year): physical assault against a
-- pupil or an adult, and use or threat of use of an offensive weapon or prohibited item (seed
-- dfe_exclusion_reason; collected from 2020/21, so null before). Both exclusion types are
-- counted; all phases. Null when any count summed was withheld, never a partial total.
with reasons as (
    select r.*, s.is_physical_assault, s.is_offensive_weapon
    from {{ ref('stg_dfe__exclusion_reasons') }} as r
    join {{ ref('dfe_exclusion_reason') }} as s using (reason_code)
    where r.time_identifier = 'Academic year' and r.phase = 'total'
),

placed as (
    select
        'utla'                      as area_type,
        l.utla_code                 as area_code,
        r.*
    from reasons as r
    join {{ ref('int_dfe__local_authority_year') }} as l
        on l.new_la_code = r.new_la_code and l.academic_year_start = r.academic_year_start
    where r.geographic_level = 'Local authority' and l.utla_code is not null
    union all by name
    select
        case geographic_level when 'Regional' then 'region' else 'country' end       as area_type,
        case geographic_level when 'Regional' then region_code else country_code end as area_code,
        *
    from reasons
    where (geographic_level = 'Regional' and region_code like 'E12%')
       or (geographic_level = 'National' and country_code is not null)
)

select
    area_type,
    area_code,
    academic_year_start                                                                  as period_start,
    case when count(*) filter (where is_physical_assault) > 0
          and count(*) filter (where is_physical_assault) = count(exclusions) filter (where is_physical_assault)
         then sum(exclusions) filter (where is_physical_assault) end                     as physical_assault_exclusions,
    string_agg(distinct exclusions_status, ',') filter (where is_physical_assault)      as physical_assault_status,
    case when count(*) filter (where is_offensive_weapon) > 0
          and count(*) filter (where is_offensive_weapon) = count(exclusions) filter (where is_offensive_weapon)
         then sum(exclusions) filter (where is_offensive_weapon) end                     as offensive_weapon_exclusions,
    string_agg(distinct exclusions_status, ',') filter (where is_offensive_weapon)      as offensive_weapon_status
from placed
group by all
