-- How much of an LSOA 2011's count goes to each LSOA 2021 (weights per LSOA 2011 sum to 1, so
-- totals are preserved):
--   U unchanged, M merged, B best fit: the whole count goes to the one LSOA 2021;
--   S split, X irregular: shared by the latest population of the receiving LSOAs 2021
--     (population-weighted apportionment; equal shares where a population is missing).
-- Rebuilt only when reference data changes (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__scope') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_on_rebuild_all() }}") }}
with pairs as (
    select * from {{ ref('stg_ons__lsoa11_lsoa21') }}
),

-- the latest estimate of a release keyed by LSOA 2021 (releases keyed by LSOA 2011 are brought
-- to 2021 through these weights, int_population__lsoa21, so cannot weight them)
latest_population as (
    select lsoa21_code, sum(population) as population_all_ages
    from {{ ref('stg_ons__population_lsoa') }}
    group by lsoa21_code, population_year
    qualify population_year = max(population_year) over (partition by lsoa21_code)
),

weighted as (
    select
        p.lsoa11_code,
        p.lsoa21_code,
        p.change_indicator,
        count(*) over (partition by p.lsoa11_code)                                   as targets,
        pop.population_all_ages,
        sum(pop.population_all_ages) over (partition by p.lsoa11_code)               as target_population,
        count(pop.population_all_ages) over (partition by p.lsoa11_code)             as targets_with_population
    from pairs as p
    left join latest_population as pop using (lsoa21_code)
)

select
    lsoa11_code,
    lsoa21_code,
    change_indicator,
    case
        when targets = 1 then 1.0
        when targets_with_population = targets and target_population > 0
            then population_all_ages / target_population
        else 1.0 / targets
    end::double as weight
from weighted
where {{ refresh_reference_filter() }}
