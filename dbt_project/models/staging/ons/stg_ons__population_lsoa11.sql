-- Population by LSOA 2011, sex and published age band (age_from to age_to; age_to null for an
-- open band such as 85+), brought to LSOAs 2021 in int_population__lsoa21.
select
    lsoa11_code,
    year        as population_year,
    sex,
    age_from,
    age_to,
    population
from {{ source('ons', 'ons_population_lsoa11') }}
