select
    lsoa21_code,
    lsoa21_name,
    lad_code,
    lad_name,
    _vintage as lad_vintage
from {{ source('ons', 'ons_lsoa21_lad') }}
