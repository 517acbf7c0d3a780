-- Street records placed in LSOAs 2021, translating files published with LSOA 2011 codes through
-- the population-weighted lookup (macros/lsoa21_translation.sql). Records in LSOAs outside the
-- reporting force's area are kept and attributed by their LSOA. Incremental: a build redoes only
-- the months whose street files changed (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__scope') }} {{ ref('int_refresh__changed_load') }} {{ ref('int_refresh__source_period') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_months() }}") }}

{{ lsoa21_translated("(select * from " ~ ref('stg_police__street') ~ " where " ~ refresh_month_filter('month_start') ~ ")") }}
