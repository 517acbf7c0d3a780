-- Population by LSOA 2021, estimate year, sex and age, from every delivered release: the LSOA 2021
-- releases by single year of age (age_to = age; 90 is 90 and over, age_to null), and LSOA 2011
-- releases by age band brought to LSOAs 2021 through int_lsoa11_to_lsoa21_weight (a best-fit,
-- unchanged or merged LSOA 2011 goes whole; a split one is shared by the weights and rounded per
-- LSOA 2021 × sex × band). Where both cover an LSOA 2021 and year, the LSOA 2021 release is used.
-- Rebuilt only when reference data changes (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__scope') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_on_rebuild_all() }}") }}
with lsoa21_release as (
    select
        lsoa21_code,
        population_year,
        sex,
        age,
        case when age < 90 then age end as age_to,
        population
    from {{ ref('stg_ons__population_lsoa') }}
),

lsoa11_release as (
    select
        w.lsoa21_code,
        p.population_year,
        p.sex,
        p.age_from                                    as age,
        p.age_to,
        round(sum(p.population * w.weight))::integer  as population
    from {{ ref('stg_ons__population_lsoa11') }} as p
    join {{ ref('int_lsoa11_to_lsoa21_weight') }} as w using (lsoa11_code)
    group by all
)

-- an LSOA 2011 release only where no LSOA 2021 release covers the LSOA and year: an anti join on
-- the few keys, not a window over the six million rows to find each key's preferred release
select lsoa21_code, population_year, sex, age, age_to, population
from lsoa21_release
where {{ refresh_reference_filter() }}
union all
select l.lsoa21_code, l.population_year, l.sex, l.age, l.age_to, l.population
from lsoa11_release as l
anti join (select distinct lsoa21_code, population_year from lsoa21_release) as covered
    on covered.lsoa21_code is not distinct from l.lsoa21_code
   and covered.population_year is not distinct from l.population_year
where {{ refresh_reference_filter() }}
