-- Crimes charged or summonsed per LSOA 2021 × month of the crime × crime type × reporting force:
-- a crime counts as charged when any outcome recorded for its Crime ID (outcomes files, joined by
-- Crime ID, from any later month), or its last outcome category in the street file, is in the
-- charged_or_summonsed group (seeds/police_outcome_group.csv). Only the groups with a charged
-- crime (852,000 of 2.9 million in the national benchmark's year), rebuilt in full each build
-- since outcomes restate every earlier month; the crimes beside them (int_police__crime_lsoa_month)
-- are rebuilt by month.
with groups as (
    select outcome, outcome_group from {{ ref('police_outcome_group') }}
),

charged_ids as (
    -- keyed as int_police__street_lsoa21 keys its records
    select distinct md5_number(o.crime_id) as crime_key
    from {{ ref('stg_police__outcome') }} as o
    join groups as g on g.outcome = o.outcome_type
    where g.outcome_group = 'charged_or_summonsed'
)

select
    s.lsoa21_code,
    s.month_start,
    s.crime_type,
    s.reporting_force_id,
    sum(s.record_weight) as crimes_charged
from {{ ref('int_police__street_lsoa21') }} as s
left join charged_ids as c on c.crime_key = s.crime_key
left join groups as g on g.outcome = s.last_outcome_category
where s.crime_key is not null
  and (c.crime_key is not null or g.outcome_group = 'charged_or_summonsed')
group by all
