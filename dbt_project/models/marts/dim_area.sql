-- Every area at every level with its parents above and its population (latest estimate).
with h as (
    select * from {{ ref('int_area_hierarchy') }}
),

population as (
    select p.lsoa21_code, p.population_year, p.population_all_ages
    from {{ ref('int_population__lsoa_year') }} as p
    qualify p.population_year = max(p.population_year) over ()
),

lsoa as (
    select h.*, population_year, population_all_ages
    from h left join population using (lsoa21_code)
),

areas as (
    select lsoa21_code as area_code, any_value(lsoa21_name) as area_name, 'lsoa' as area_type,
           any_value(lad_code) as lad_code, any_value(csp_code) as csp_code, any_value(pfa_code) as pfa_code,
           any_value(region_code) as region_code, any_value(country_code) as country_code,
           max(population_year) as population_year, sum(population_all_ages) as population
    from lsoa group by lsoa21_code
    union all
    select lad_code, any_value(lad_name), 'lad', null, any_value(csp_code), any_value(pfa_code),
           any_value(region_code), any_value(country_code), max(population_year), sum(population_all_ages)
    from lsoa group by lad_code
    union all
    select csp_code, any_value(csp_name), 'csp', null, null, any_value(pfa_code),
           any_value(region_code), any_value(country_code), max(population_year), sum(population_all_ages)
    from lsoa group by csp_code
    union all
    -- a PFA's population is published only as the sum of the LSOAs loaded for it
    select pfa_code, any_value(pfa_name), 'pfa', null, null, null,
           any_value(region_code), any_value(country_code), max(population_year), sum(population_all_ages)
    from lsoa group by pfa_code
)

select
    area_code::varchar         as area_code,
    area_name::varchar         as area_name,
    area_type::varchar         as area_type,
    lad_code::varchar          as parent_lad_code,
    csp_code::varchar          as parent_csp_code,
    pfa_code::varchar          as parent_pfa_code,
    region_code::varchar       as parent_region_code,
    country_code::varchar      as parent_country_code,
    population_year::integer   as population_year,
    population::bigint         as population,
    null::integer              as imd_decile
from areas
