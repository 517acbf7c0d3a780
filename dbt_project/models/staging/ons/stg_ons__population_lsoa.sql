select
    lsoa21_code,
    year        as population_year,
    sex,
    age,
    population
from {{ source('ons', 'ons_population_lsoa') }}
