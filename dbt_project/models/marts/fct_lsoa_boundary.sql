-- Each LSOA 2021 with a loaded boundary, simplified for drawing, as GeoJSON text (WGS84
-- longitude/latitude), with its district and force for choosing the LSOAs of one map. Empty when
-- no boundaries are loaded: the report then says so.
select
    b.lsoa21_code,
    a.area_name as lsoa21_name,
    a.parent_lad_code as lad_code,
    a.parent_pfa_code as pfa_code,
    b.geometry_geojson,
    b.vertex_count,
    b.tolerance_degrees
from {{ ref('int_ons__lsoa21_boundary_simplified') }} as b
left join {{ ref('dim_area') }} as a
    on a.area_code = b.lsoa21_code and a.area_type = 'lsoa'
