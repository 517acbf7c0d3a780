-- One row per street-level crime record from accepted deliveries. Loads whose Great
-- Expectations check failed are left out so bad data never reaches the marts. police.uk repeats
-- some Crime IDs on identical rows: those collapse to one (the load manifest counts them);
-- anti-social behaviour has no Crime ID and every row is kept. Only deliveries in which the
-- loader counted such repeats (load_manifest.rows_duplicate) go through the collapsing window:
-- most have none, and the window over every record was the costliest step of a national build.
with accepted as (
    select * from {{ source('raw', 'police_street') }}
    where _load_id in {{ accepted_load_ids('police_street') }}
),

with_repeats as (
    select load_id from {{ source('pipeline', 'load_manifest') }}
    -- not counted (a load older than the count) is treated as having repeats
    where source = 'police_street' and (rows_duplicate is null or rows_duplicate > 0)
),

street as (
    select * from accepted
    where _load_id not in (select load_id from with_repeats)
    union all
    select * from accepted
    where _load_id in (select load_id from with_repeats)
    qualify crime_id is null
         or row_number() over (
                partition by _source_file, crime_id, month, reported_by, falls_within, longitude, latitude,
                             location, lsoa_code, lsoa_name, crime_type, last_outcome_category, context
                order by _row_number) = 1
)

select
    crime_id,
    month                   as month_start,
    force                   as reporting_force_id,
    reported_by             as reporting_force,
    falls_within            as force_area_name,
    longitude,
    latitude,
    location                as location_description,
    lsoa_code               as lsoa_code_as_published,
    lsoa_name               as lsoa_name_as_published,
    crime_type,
    last_outcome_category,
    (longitude is null or latitude is null
        or (longitude = 0 and latitude = 0))        as is_location_missing,
    _load_id                as load_id,
    _source_file            as source_file,
    _row_number             as source_row_number
from street
