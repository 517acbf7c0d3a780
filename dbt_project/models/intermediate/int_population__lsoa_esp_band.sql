-- Population per LSOA, year and 2013 European Standard Population five-year band (19 bands,
-- 90+ the last), the denominators of directly age-standardised rates. Single years and published
-- bands go to the ESP band they lie wholly inside; an LSOA-year with a band that fits none (an
-- 85+ band spans ESP's 85-89 and 90+) has no ESP populations rather than misplaced ones.
-- Rebuilt only when reference data changes (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__scope') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_on_rebuild_all() }}") }}
with population as (
    select * from {{ ref('int_population__lsoa21') }}
    where {{ refresh_reference_filter() }}
),

age_band as (
    -- each age range the releases hold (about a hundred) and the ESP band it lies wholly inside,
    -- null when none: the range join runs over these, not over every population row
    select a.age, a.age_to, b.esp_band, b.label as esp_band_label
    from (select distinct age, age_to from population) as a
    left join {{ ref('esp2013_age_band') }} as b
        on a.age >= b.age_from and (b.age_to is null or a.age_to <= b.age_to)
),

placed as (
    select p.lsoa21_code, p.population_year, p.population, ab.esp_band, ab.esp_band_label
    from population as p
    inner join age_band as ab
        on ab.age is not distinct from p.age and ab.age_to is not distinct from p.age_to
),

unplaced as (
    select distinct lsoa21_code, population_year from placed where esp_band is null
)

select
    placed.lsoa21_code,
    placed.population_year,
    placed.esp_band,
    placed.esp_band_label,
    sum(placed.population) as population
from placed
anti join unplaced
    on unplaced.lsoa21_code is not distinct from placed.lsoa21_code
   and unplaced.population_year is not distinct from placed.population_year
group by all
