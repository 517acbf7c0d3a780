-- Street records placed in LSOAs 2021, translating files published with LSOA 2011 codes through
-- the population-weighted lookup (macros/lsoa21_translation.sql). Records in LSOAs outside the
-- reporting force's area are kept and attributed by their LSOA. Incremental: a build redoes only
-- the months whose street files changed (macros/refresh_scope.sql). Only the columns counted
-- from are kept: names, free text (the force's name, 'On or near …', the LSOA's name), the
-- LSOA code as published and each record's file, load and row stay in stg_police__street, as
-- writing them again for every record was most of this model's time.
-- depends_on: {{ ref('int_refresh__scope') }} {{ ref('int_refresh__changed_load') }} {{ ref('int_refresh__source_period') }}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
          pre_hook="{{ refresh_delete_months() }}") }}

{%- set records -%}
(select crime_id, month_start, reporting_force_id, longitude, latitude, lsoa_code_as_published, crime_type,
        last_outcome_category, source_file
 from {{ ref('stg_police__street') }}
 where {{ refresh_month_filter('month_start') }})
{%- endset %}
-- the Crime ID as a 128-bit key: the 64-character ID was two fifths of what this model wrote, and
-- only the join to outcomes reads it (a collision among a country's crimes: about 1 in 10^22)
select * exclude (crime_id, lsoa_code_as_published, lsoa_vintage, source_file), md5_number(crime_id) as crime_key
from ({{ lsoa21_translated(records) }}) as translated
