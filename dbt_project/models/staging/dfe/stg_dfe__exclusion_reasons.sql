-- One row per published count of suspensions or permanent exclusions for one reason: academic
-- year × geographic level × area × phase × exclusion type × reason, the latest delivery's when
-- releases overlap. Legacy counts may be fractional (an exclusion given several reasons was
-- shared between them).
select
    academic_year_start,
    time_period,
    time_identifier,
    geographic_level,
    country_code,
    region_code,
    old_la_code,
    new_la_code,
    la_name,
    phase,
    exclusion_type,
    reason_code,
    exclusions,
    exclusions_status,
    _load_id        as load_id,
    _source_file    as source_file,
    _row_number     as source_row_number
from {{ source('dfe', 'dfe_exclusion_reasons') }}
where _load_id in {{ accepted_load_ids('dfe_exclusion_reasons') }}
qualify row_number() over (
    partition by academic_year_start, time_identifier, geographic_level, region_code,
                 coalesce(new_la_code, old_la_code), phase, exclusion_type, reason_code
    order by _loaded_at desc, _row_number asc) = 1
