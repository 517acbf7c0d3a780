-- Police recorded crime counted at its finest grain: LSOA 2021 × month × crime type × the force
-- that reported it (a count may hold fractions where a 2011 LSOA was split). Records with no
-- LSOA (no map point within 20 km) are kept with lsoa21_code null: indicators count them in the
-- reporting force's area and above, never below (int_indicator__lsoa_month).
-- crimes_with_id counts the records with a Crime ID, the crimes outcomes can be joined to
-- (int_police__crime_outcome_lsoa_month). Incremental by month, like int_police__street_lsoa21.
-- depends_on: {{ ref('int_refresh__scope') }} {{ ref('int_refresh__changed_load') }} {{ ref('int_refresh__source_period') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_months() }}") }}

select
    lsoa21_code,
    month_start,
    crime_type,
    reporting_force_id,
    sum(record_weight) as crime_count,
    sum(record_weight) filter (where crime_key is not null) as crimes_with_id
from {{ ref('int_police__street_lsoa21') }}
where {{ refresh_month_filter('month_start') }}
group by all
