-- Population by LSOA 2021, sex and single year of age, from whichever published layout was
-- delivered. Where two deliveries cover the same LSOA and year, the small-area release (SAPE)
-- is preferred: the area layout's rows are kept only for the LSOA-years SAPE does not cover (an
-- anti join on those keys, not a window over the six million rows).
with sape as (
    select lsoa21_code, year, sex, age, population
    from {{ source('ons', 'ons_population_lsoa') }}
),

sape_covered as (
    select distinct lsoa21_code, year from sape
)

select
    lsoa21_code,
    year        as population_year,
    sex,
    age,
    population
from sape
union all
select
    a.area_code as lsoa21_code,
    a.year      as population_year,
    a.sex,
    a.age,
    a.population
from {{ source('ons', 'ons_population_area') }} as a
anti join sape_covered as c
    on c.lsoa21_code is not distinct from a.area_code and c.year is not distinct from a.year
where a.geography = 'LSOA'
