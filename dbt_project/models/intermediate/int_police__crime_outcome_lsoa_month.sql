-- Crimes by LSOA 2021 × month of the crime × crime type, with how many have been charged or
-- summonsed (int_police__crime_charged_lsoa_month says when a crime counts as charged). Crimes
-- with no LSOA are kept (lsoa21_code null), by the force that reported them. A view: the crimes
-- come from int_police__crime_lsoa_month, rebuilt by month, so a month's outcomes rewrite only
-- the charged counts, not a row for every LSOA, month and crime type.
{{ config(materialized='view') }}
select
    m.lsoa21_code,
    m.month_start,
    m.crime_type,
    m.reporting_force_id,
    m.crimes_with_id  as crimes,
    c.crimes_charged
from {{ ref('int_police__crime_lsoa_month') }} as m
left join {{ ref('int_police__crime_charged_lsoa_month') }} as c
    on c.lsoa21_code is not distinct from m.lsoa21_code
   and c.month_start = m.month_start
   and c.crime_type = m.crime_type
   and c.reporting_force_id is not distinct from m.reporting_force_id
where m.crimes_with_id is not null
