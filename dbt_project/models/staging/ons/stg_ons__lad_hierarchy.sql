-- One row per local authority district with its upper-tier authority, region and country.
-- Ward-level lookups repeat each LAD, hence distinct; W99999999 is ONS's "no region" for Wales.
select distinct
    lad_code,
    utla_code,
    utla_name,
    nullif(region_code, 'W99999999') as region_code,
    case when region_code = 'W99999999' then null else region_name end as region_name,
    country_code,
    country_name,
    _vintage as lookup_vintage
from {{ source('ons', 'ons_lad_hierarchy') }}
