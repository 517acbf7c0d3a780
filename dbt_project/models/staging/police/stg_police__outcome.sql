-- Outcomes recorded for crimes, from accepted outcome deliveries, one row per outcome.
select
    crime_id,
    month           as outcome_month_start,
    outcome_type,
    _load_id        as load_id,
    _source_file    as source_file
from {{ source('raw', 'police_outcome') }}
where _load_id in {{ accepted_load_ids('police_outcomes') }}
  and crime_id is not null
