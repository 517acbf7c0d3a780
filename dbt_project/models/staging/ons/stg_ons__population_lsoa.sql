-- Population by LSOA 2021, sex and single year of age, from whichever published layout was
-- delivered. Where two deliveries cover the same LSOA and year, the small-area release (SAPE)
-- is preferred.
with by_release as (
    select lsoa21_code, year, sex, age, population, 1 as preference
    from {{ source('ons', 'ons_population_lsoa') }}
    union all
    select area_code, year, sex, age, population, 2 as preference
    from {{ source('ons', 'ons_population_area') }}
    where geography = 'LSOA'
)

select
    lsoa21_code,
    year        as population_year,
    sex,
    age,
    population
from by_release
qualify preference = min(preference) over (partition by lsoa21_code, year)
