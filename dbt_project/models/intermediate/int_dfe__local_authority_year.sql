-- Each local authority a DfE release publishes, per academic year, with the current county or
-- unitary authority its figures count in: itself, or the authority that succeeded it where it
-- lay wholly inside it (int_lad_code_map: Buckinghamshire county → Buckinghamshire). An
-- authority formed from parts of earlier ones (seed utla_boundary_change: Bournemouth,
-- Christchurch and Poole; the Northamptonshires) has no earlier authority wholly inside it, so
-- nothing is placed in it before its first academic year (utla_code null; placement says why).
-- Authorities abolished before GSS codes (no new_la_code: Bedfordshire before 2009) are not here
-- and are placed nowhere.
with published as (
    select new_la_code, academic_year_start, any_value(time_period) as time_period, any_value(la_name) as la_name
    from (
        select new_la_code, academic_year_start, time_period, la_name from {{ ref('stg_dfe__exclusions') }}
        where geographic_level = 'Local authority' and new_la_code is not null
        union all
        select new_la_code, academic_year_start, time_period, la_name from {{ ref('stg_dfe__exclusion_reasons') }}
        where geographic_level = 'Local authority' and new_la_code is not null
    ) as published_rows
    group by all
),

successor as (
    select
        p.*,
        coalesce(m.current_lad_code, p.new_la_code)  as successor_code,
        b.first_academic_year
    from published as p
    left join {{ ref('int_lad_code_map') }} as m on m.lad_code = p.new_la_code
    left join {{ ref('utla_boundary_change') }} as b on b.utla_code = coalesce(m.current_lad_code, p.new_la_code)
)

select
    new_la_code,
    la_name,
    academic_year_start,
    case when first_academic_year is null or time_period >= first_academic_year
         then successor_code end                                         as utla_code,
    case
        when first_academic_year is not null and time_period < first_academic_year
            then 'before ' || successor_code || ' was formed from parts of earlier authorities: placed nowhere'
        when successor_code <> new_la_code then 'in its successor ' || successor_code
        else 'as published'
    end                                                                  as placement
from successor
