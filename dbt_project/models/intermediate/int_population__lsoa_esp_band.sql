-- Population per LSOA, year and 2013 European Standard Population five-year band (19 bands,
-- 90+ the last), the denominators of directly age-standardised rates.
-- Rebuilt only when reference data changes (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__scope') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_on_rebuild_all() }}") }}
select
    p.lsoa21_code,
    p.population_year,
    b.esp_band,
    b.label                  as esp_band_label,
    sum(p.population)        as population
from {{ ref('stg_ons__population_lsoa') }} as p
join {{ ref('esp2013_age_band') }} as b
    on p.age >= b.age_from and (b.age_to is null or p.age <= b.age_to)
where {{ refresh_reference_filter() }}
group by all
