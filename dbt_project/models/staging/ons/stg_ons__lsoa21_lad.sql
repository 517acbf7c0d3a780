select
    lsoa21_code,
    lsoa21_name,
    lad_code,
    lad_name,
    -- given by the boundary files' attribute table (UTLACD, RGNCD), or a CTYUAyy / RGNyy column
    utla_code,
    region_code,
    _vintage as lad_vintage
from {{ source('ons', 'ons_lsoa21_lad') }}
