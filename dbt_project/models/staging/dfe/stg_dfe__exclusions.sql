-- One row per published figure set of the DfE exclusions release: academic year × time
-- identifier × geographic level × area (or school) × phase. A year restated by a later release
-- counts once, as the latest delivery has it. Levels stay apart: national, regional, local
-- authority and school rows are never summed together here or downstream.
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
    school_urn,
    school_laestab,
    school_name,
    phase,
    num_schools,
    num_schools_status,
    headcount,
    headcount_status,
    perm_excl,
    perm_excl_status,
    suspension,
    suspension_status,
    one_plus_susp,
    one_plus_susp_status,
    _load_id        as load_id,
    _source_file    as source_file,
    _row_number     as source_row_number
from {{ source('dfe', 'dfe_exclusions') }}
where _load_id in {{ accepted_load_ids('dfe_exclusions') }}
qualify row_number() over (
    partition by academic_year_start, time_identifier, geographic_level, region_code,
                 coalesce(new_la_code, old_la_code), coalesce(school_laestab, school_urn), phase
    order by _loaded_at desc, _row_number asc) = 1
