-- Resident population per LSOA and estimate year: all ages and the age groups indicators use.
-- An age group is summed from the single years or published bands lying wholly inside it; where a
-- band straddles the group's edge (a 20-29 band for under 25s) the group is left null, never
-- under- or over-counted. Rebuilt only when reference data changes (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__scope') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_on_rebuild_all() }}") }}
select
    lsoa21_code,
    population_year,
    sum(population)                                                         as population_all_ages,
    case when bool_and(age >= 10 or coalesce(age_to, 999) < 10)
        and bool_and(age >= 25 or coalesce(age_to, 999) < 25)
        then coalesce(sum(population) filter (where age >= 10 and age_to < 25), 0) end
        as population_aged_10_24,
    case when bool_and(age >= 25 or coalesce(age_to, 999) < 25)
        then coalesce(sum(population) filter (where age_to < 25), 0) end     as population_aged_under_25
from {{ ref('int_population__lsoa21') }}
where {{ refresh_reference_filter() }}
group by all
