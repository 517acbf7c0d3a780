select
    lsoa11_code,
    lsoa11_name,
    -- the best-fit lookup has no CHGIND: each LSOA 2011 goes whole to one LSOA 2021
    coalesce(change_indicator, 'B')   as change_indicator,
    lsoa21_code,
    lsoa21_name
from {{ source('ons', 'ons_lsoa11_lsoa21') }}
