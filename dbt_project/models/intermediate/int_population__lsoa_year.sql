-- Resident population per LSOA and estimate year: all ages and the age groups indicators use.
-- Rebuilt only when reference data changes (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__scope') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_on_rebuild_all() }}") }}
select
    lsoa21_code,
    population_year,
    sum(population)                                   as population_all_ages,
    sum(population) filter (where age between 10 and 24) as population_aged_10_24,
    sum(population) filter (where age < 25)           as population_aged_under_25
from {{ ref('stg_ons__population_lsoa') }}
where {{ refresh_reference_filter() }}
group by all
