-- One row per emergency care injury attendance from accepted ECDS extracts, as the trust's
-- latest delivery has it: rows the trust flagged as duplicates (Der_Dupe_Flag) are left out, and
-- an attendance (trust × EC_Ident) delivered twice counts once. Pseudonymous from here on: the
-- patient_key links a patient's attendances and identifies nobody.
with ecds as (
    select * from {{ source('ae', 'ae_ecds') }}
    where _load_id in {{ accepted_load_ids('ae_ecds') }}
    qualify row_number() over (
        partition by provider_code, ec_ident order by _loaded_at desc, revision desc, _row_number asc) = 1
)

select
    provider_code,
    ec_ident,
    patient_key,
    arrival_date,
    date_trunc('month', arrival_date)::date     as month_start,
    arrival_time,
    age_at_arrival                              as age,
    age_band,
    sex,
    injury_date,
    injury_time,
    injury_intent_snomed,
    injury_mechanism_snomed,
    place_of_injury_snomed,
    place_of_injury_latitude,
    place_of_injury_longitude,
    residence_lsoa21_code,
    _load_id                                    as load_id,
    _source_file                                as source_file,
    _row_number                                 as source_row_number
from ecds
where not coalesce(dupe_flag, false)
