-- Every LSOA 2021 with its parent at each level: MSOA, LAD (current, after boundary changes),
-- upper-tier LA, CSP, PFA, region and country. Lookups of an older vintage are brought up to
-- date through int_lad_code_map (by code), so a LAD22 lookup or a 2017 CSP lookup still lands on
-- today's districts. Where districts merged since a lookup's vintage and their old CSPs differ,
-- the current district's CSP is not known from it and is left null (its PFA still is).
with lsoa as (
    select
        l.lsoa21_code, l.lsoa21_name, m.current_lad_code as lad_code, m.current_lad_name as lad_name,
        l.utla_code, l.region_code
    from {{ ref('stg_ons__lsoa21_lad') }} as l
    join {{ ref('int_lad_code_map') }} as m using (lad_code)
),

csp_pfa as (
    select
        m.current_lad_code as lad_code,
        case when count(distinct c.csp_code) = 1 then any_value(c.csp_code) end as csp_code,
        case when count(distinct c.csp_code) = 1 then any_value(c.csp_name) end as csp_name,
        case when count(distinct c.pfa_code) = 1 then any_value(c.pfa_code) end as pfa_code,
        case when count(distinct c.pfa_code) = 1 then any_value(c.pfa_name) end as pfa_name
    from {{ ref('stg_ons__lad_csp_pfa') }} as c
    join {{ ref('int_lad_code_map') }} as m using (lad_code)
    group by m.current_lad_code
),

-- a LAD → upper tier → region → country lookup first, else the every-code lookup's current districts
upper_tier_rows as (
    select lad_code, utla_code, utla_name, region_code, region_name, country_code, country_name, 1 as preference
    from {{ ref('stg_ons__lad_hierarchy') }}
    union all
    select lad_code, utla_code, utla_name, region_code, region_name, country_code, country_name, 2 as preference
    from {{ ref('stg_ons__lad_all_codes') }}
    where is_current
),

upper_tier as (
    select
        m.current_lad_code as lad_code, h.utla_code, h.utla_name, h.region_code, h.region_name,
        h.country_code, h.country_name
    from upper_tier_rows as h
    join {{ ref('int_lad_code_map') }} as m using (lad_code)
    qualify row_number() over (partition by m.current_lad_code
                               order by h.preference, h.lad_code = m.current_lad_code desc) = 1
)

select
    lsoa.lsoa21_code,
    lsoa.lsoa21_name,
    msoa.msoa21_code,
    msoa.msoa21_name,
    lsoa.lad_code,
    lsoa.lad_name,
    -- a unitary authority is its own upper tier
    coalesce(u.utla_code, lsoa.utla_code, case when left(lsoa.lad_code, 3) <> 'E07' then lsoa.lad_code end)
        as utla_code,
    coalesce(u.utla_name, case when coalesce(u.utla_code, lsoa.utla_code, lsoa.lad_code) = lsoa.lad_code
                               then lsoa.lad_name end) as utla_name,
    c.csp_code,
    c.csp_name,
    c.pfa_code,
    c.pfa_name,
    -- Wales is one region (var area_levels: region W99999999), which ONS lookups leave blank
    coalesce(u.region_code, lsoa.region_code, case when left(lsoa.lsoa21_code, 1) = 'W' then 'W99999999' end)
        as region_code,
    coalesce(u.region_name, case when left(lsoa.lsoa21_code, 1) = 'W' then 'Wales' end) as region_name,
    coalesce(u.country_code,
             case left(lsoa.lsoa21_code, 1) when 'E' then 'E92000001' when 'W' then 'W92000004' end) as country_code,
    coalesce(u.country_name,
             case left(lsoa.lsoa21_code, 1) when 'E' then 'England' when 'W' then 'Wales' end)        as country_name
from lsoa
left join {{ ref('stg_ons__lsoa21_msoa21') }} as msoa using (lsoa21_code)
left join csp_pfa as c using (lad_code)
left join upper_tier as u using (lad_code)
