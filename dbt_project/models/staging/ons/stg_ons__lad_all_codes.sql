-- Every district code of England and Wales used since 2011 with the district it lies in now
-- (itself when current), and the current district's upper tier, region and country. Scottish
-- and Northern Irish codes in the same file are left out.
select
    lad_code,
    lad_name,
    current_lad_code,
    current_lad_name,
    upper(is_current) = 'TRUE' as is_current,
    utla_code,
    utla_name,
    region_code,
    region_name,
    country_code,
    country_name
from {{ source('ons', 'ons_lad_all_codes') }}
where left(lad_code, 1) in ('E', 'W')
