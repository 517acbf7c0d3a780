-- All-ages resident population per LSOA and estimate year.
select
    lsoa21_code,
    population_year,
    sum(population) as population_all_ages
from {{ ref('stg_ons__population_lsoa') }}
group by all
