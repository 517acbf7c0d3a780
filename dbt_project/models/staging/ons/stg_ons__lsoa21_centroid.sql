-- One point per LSOA 2021: its population-weighted centroid in WGS84 degrees (optional
-- reference; without it stop-and-search coordinates are placed by police map points only).
select
    lsoa21_code,
    cast(latitude as double)  as latitude,
    cast(longitude as double) as longitude
from {{ source('ons', 'ons_lsoa21_centroid') }}
