-- Published local authority mid-year estimates (not summed from LSOAs), for areas and years
-- where small-area estimates are missing and for checking LSOA sums against ONS's own totals.
select
    area_code   as la_code,
    area_name   as la_name,
    year        as population_year,
    sex,
    age,
    population
from {{ source('ons', 'ons_population_area') }}
where geography <> 'LSOA'
