-- Stop and search records from accepted deliveries, one row per search (times in UTC).
select
    force                                  as force_slug,
    date_trunc('month', searched_at)::date as month_start,
    searched_at,
    search_type,
    legislation,
    object_of_search,
    outcome,
    outcome_linked_to_object,
    age_range,
    gender,
    officer_defined_ethnicity,
    self_defined_ethnicity,
    latitude,
    longitude,
    (latitude is not null and longitude is not null
        and not (latitude = 0 and longitude = 0))  as has_location,
    _source_file                           as source_file,
    _row_number                            as source_row_number
from {{ source('raw', 'police_stop_search') }}
where _load_id in {{ accepted_load_ids('police_stop_search') }}
