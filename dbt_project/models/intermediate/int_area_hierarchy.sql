-- Every LSOA 2021 with its parent at each level: MSOA, LAD (current, after boundary changes),
-- upper-tier LA, CSP, PFA, region and country. Lookups of an older vintage are brought up to
-- date through int_lad_code_map, so a LAD22 lookup still lands on today's districts.
with lsoa as (
    select l.lsoa21_code, l.lsoa21_name, m.current_lad_code as lad_code, m.current_lad_name as lad_name
    from {{ ref('stg_ons__lsoa21_lad') }} as l
    join {{ ref('int_lad_code_map') }} as m using (lad_code)
),

csp_pfa as (
    select m.current_lad_code as lad_code, any_value(c.csp_code) as csp_code, any_value(c.csp_name) as csp_name,
           any_value(c.pfa_code) as pfa_code, any_value(c.pfa_name) as pfa_name
    from {{ ref('stg_ons__lad_csp_pfa') }} as c
    join {{ ref('int_lad_code_map') }} as m using (lad_code)
    group by m.current_lad_code
),

upper_tier as (
    select m.current_lad_code as lad_code, any_value(h.utla_code) as utla_code, any_value(h.utla_name) as utla_name,
           any_value(h.region_code) as region_code, any_value(h.region_name) as region_name,
           any_value(h.country_code) as country_code, any_value(h.country_name) as country_name
    from {{ ref('stg_ons__lad_hierarchy') }} as h
    join {{ ref('int_lad_code_map') }} as m using (lad_code)
    group by m.current_lad_code
)

select
    lsoa.lsoa21_code,
    lsoa.lsoa21_name,
    msoa.msoa21_code,
    msoa.msoa21_name,
    lsoa.lad_code,
    lsoa.lad_name,
    -- a unitary authority is its own upper tier
    coalesce(u.utla_code, case when left(lsoa.lad_code, 3) <> 'E07' then lsoa.lad_code end) as utla_code,
    coalesce(u.utla_name, case when left(lsoa.lad_code, 3) <> 'E07' then lsoa.lad_name end) as utla_name,
    c.csp_code,
    c.csp_name,
    c.pfa_code,
    c.pfa_name,
    u.region_code,
    u.region_name,
    coalesce(u.country_code,
             case left(lsoa.lsoa21_code, 1) when 'E' then 'E92000001' when 'W' then 'W92000004' end) as country_code,
    coalesce(u.country_name,
             case left(lsoa.lsoa21_code, 1) when 'E' then 'England' when 'W' then 'Wales' end)        as country_name
from lsoa
left join {{ ref('stg_ons__lsoa21_msoa21') }} as msoa using (lsoa21_code)
left join csp_pfa as c using (lad_code)
left join upper_tier as u using (lad_code)
