-- A&E assault attendances by the LSOA 2021 of the place of injury × arrival month, where the
-- extract gave coordinates (int_ae__assault_attendance): the A&E side of the multi-agency view
-- beside police-recorded violence, which is also counted where it happened.
select
    place_lsoa21_code               as lsoa21_code,
    month_start,
    count(*)                        as attendances
from {{ ref('int_ae__assault_attendance') }}
where place_lsoa21_code is not null
group by all
