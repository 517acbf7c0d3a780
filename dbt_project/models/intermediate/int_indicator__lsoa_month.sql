-- Numerator and denominator per indicator × LSOA × month, zero-filled: every LSOA of a police
-- force area gets a row for every month that force delivered, so areas with no crimes count as
-- 0 events (not missing). The denominator is the mid-year estimate for the period's year, or the
-- nearest earlier year available (the latest when the period precedes every estimate).
with catalogue as (
    select * from {{ ref('indicator_catalogue') }}
    where police_crime_type is not null
),

hierarchy as (
    select * from {{ ref('int_area_hierarchy') }}
),

crimes as (
    select * from {{ ref('int_police__crime_lsoa_month') }}
),

force_months as (
    select distinct h.pfa_code, c.month_start
    from crimes as c
    join hierarchy as h using (lsoa21_code)
),

lsoa_months as (
    select h.lsoa21_code, h.msoa21_code, h.lad_code, h.csp_code, h.pfa_code, fm.month_start
    from hierarchy as h
    join force_months as fm using (pfa_code)
),

population as (
    select * from {{ ref('int_population__lsoa_year') }}
),

denominators as (
    select
        lm.lsoa21_code,
        lm.month_start,
        p.population_year,
        p.population_all_ages
    from lsoa_months as lm
    join population as p using (lsoa21_code)
    qualify row_number() over (
        partition by lm.lsoa21_code, lm.month_start
        order by (p.population_year <= year(lm.month_start)) desc,
                 case when p.population_year <= year(lm.month_start)
                      then -p.population_year else p.population_year end
    ) = 1
)

select
    cat.indicator_id,
    lm.lsoa21_code,
    lm.msoa21_code,
    lm.lad_code,
    lm.csp_code,
    lm.pfa_code,
    lm.month_start,
    coalesce(sum(c.crime_count), 0)::bigint as numerator,
    d.population_all_ages::double           as denominator,
    d.population_year
from lsoa_months as lm
cross join catalogue as cat
join denominators as d
    on d.lsoa21_code = lm.lsoa21_code and d.month_start = lm.month_start
left join crimes as c
    on c.lsoa21_code = lm.lsoa21_code
   and c.month_start = lm.month_start
   and c.crime_type = cat.police_crime_type
group by all
