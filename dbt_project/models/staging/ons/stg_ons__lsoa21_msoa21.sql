-- One row per LSOA 2021 with its MSOA 2021 (the OA-level lookup repeats each LSOA).
select distinct
    lsoa21_code,
    msoa21_code,
    msoa21_name
from {{ source('ons', 'ons_lsoa21_msoa21') }}
