-- One row per crime in forces' own recorded-crime extracts, from deliveries that passed their
-- checks. Extracts may overlap (a monthly file, then a re-export of the quarter): a crime
-- reference seen in several deliveries counts once, as the most recently loaded delivery has it.
select
    force,
    crime_reference,
    recorded_date,
    date_trunc('month', recorded_date)::date   as month_start,
    offence_code,
    offence_description,
    is_knife_or_sharp_instrument,
    victim_age,
    lsoa_code                                  as lsoa_code_as_published,
    _load_id                                   as load_id,
    _source_file                               as source_file,
    _row_number                                as source_row_number
from {{ source('raw', 'force_recorded_crime') }}
where _load_id in {{ accepted_load_ids('force_recorded_crime') }}
qualify row_number() over (partition by force, crime_reference order by _loaded_at desc, _row_number asc) = 1
