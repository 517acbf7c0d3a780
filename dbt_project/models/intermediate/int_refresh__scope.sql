-- How much an incremental build redoes (macros/refresh_scope.sql), one row:
--   rebuild_all   everything: on a --full-refresh build, when no complete build is recorded, or
--                 when a delivery of a source declared `reference` changed (lookups, population,
--                 IMD), since every area and denominator hangs on those
{{ config(tags=['refresh_scope']) }}
select
    {{ 'true' if flags.FULL_REFRESH else 'false' }}
    or not exists (select 1 from {{ source('pipeline', 'dbt_built_load') }})
    or exists (select 1 from {{ ref('int_refresh__changed_load') }} where refresh = 'reference') as rebuild_all
