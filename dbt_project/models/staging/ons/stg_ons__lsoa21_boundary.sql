-- One polygon per LSOA 2021 (optional reference, ingestion/sources/boundaries.py): WGS84
-- longitude/latitude as WKB. Boundary files are delivered one per district or as one national
-- file; where two loaded files hold the same LSOA, the most recently loaded polygon counts.
select
    lsoa21_code,
    lsoa21_name,
    geometry_wkb,
    _source_file as source_file
from {{ source('ons', 'ons_lsoa21_boundary') }}
where _load_id in {{ accepted_load_ids('ons_lsoa21_boundary') }}
qualify row_number() over (partition by lsoa21_code order by _loaded_at desc, _source_file desc) = 1
