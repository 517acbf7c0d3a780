select
    lad_code,
    region_code,
    region_name,
    _vintage as lookup_vintage
from {{ source('ons', 'ons_lad_region') }}
