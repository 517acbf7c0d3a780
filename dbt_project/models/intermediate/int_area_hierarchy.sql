-- Every LSOA 2021 with its parent at each level above: LAD → CSP → PFA, LAD → region → country.
select
    l.lsoa21_code,
    l.lsoa21_name,
    l.lad_code,
    l.lad_name,
    c.csp_code,
    c.csp_name,
    c.pfa_code,
    c.pfa_name,
    r.region_code,
    r.region_name,
    case left(l.lsoa21_code, 1) when 'E' then 'E92000001' when 'W' then 'W92000004' end as country_code,
    case left(l.lsoa21_code, 1) when 'E' then 'England' when 'W' then 'Wales' end        as country_name
from {{ ref('stg_ons__lsoa21_lad') }} as l
left join {{ ref('stg_ons__lad_csp_pfa') }} as c using (lad_code)
left join {{ ref('stg_ons__lad_region') }} as r using (lad_code)
