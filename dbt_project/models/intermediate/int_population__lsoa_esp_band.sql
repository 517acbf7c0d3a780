-- Population per LSOA, year and 2013 European Standard Population five-year band (19 bands,
-- 90+ the last), the denominators of directly age-standardised rates. Single years and published
-- bands go to the ESP band they lie wholly inside; an LSOA-year with a band that fits none (an
-- 85+ band spans ESP's 85-89 and 90+) has no ESP populations rather than misplaced ones.
-- Rebuilt only when reference data changes (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__scope') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_on_rebuild_all() }}") }}
with placed as (
    select
        p.lsoa21_code,
        p.population_year,
        p.population,
        b.esp_band,
        b.label as esp_band_label
    from {{ ref('int_population__lsoa21') }} as p
    left join {{ ref('esp2013_age_band') }} as b
        on p.age >= b.age_from and (b.age_to is null or p.age_to <= b.age_to)
    where {{ refresh_reference_filter() }}
    qualify count(b.esp_band) over (partition by p.lsoa21_code, p.population_year)
        = count(*) over (partition by p.lsoa21_code, p.population_year)
)

select
    lsoa21_code,
    population_year,
    esp_band,
    esp_band_label,
    sum(population) as population
from placed
group by all
