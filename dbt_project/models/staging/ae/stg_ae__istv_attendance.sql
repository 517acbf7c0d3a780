-- One row per assault attendance from accepted ISTV submissions, free-text descriptions left
-- behind in raw. An attendance the site numbered (Attendance Reference) and delivered twice counts
-- once, as its latest delivery has it.
with istv as (
    select * from {{ source('ae', 'ae_istv') }}
    where _load_id in {{ accepted_load_ids('ae_istv') }}
    qualify attendance_ref is null
         or row_number() over (
                partition by site_code, attendance_ref order by _loaded_at desc, revision desc, _row_number asc) = 1
)

select
    site_code,
    reporting_period_start                      as month_start,
    attendance_ref,
    patient_key,
    arrival_date,
    arrival_time,
    assault_date,
    assault_time,
    assault_method                              as assault_method_code,
    location_type                               as location_type_code,
    _load_id                                    as load_id,
    _source_file                                as source_file,
    _row_number                                 as source_row_number
from istv
