-- Police recorded crime at its finest published grain. police.uk data is already public at
-- record level, so no disclosure control is needed here. Incremental by month, like
-- int_police__crime_lsoa_month (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__scope') }} {{ ref('int_refresh__changed_load') }} {{ ref('int_refresh__source_period') }}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ refresh_delete_months() }}") }}
-- Every located record, whichever force reported it (British Transport Police's included: the
-- catalogue's choice on those applies to indicators); records with no LSOA are not here.
select
    lsoa21_code::varchar      as lsoa21_code,
    month_start::date         as month_start,
    crime_type::varchar       as crime_type,
    sum(crime_count)::double  as crime_count
from {{ ref('int_police__crime_lsoa_month') }}
where lsoa21_code is not null
  and {{ refresh_month_filter('month_start') }}
group by all
