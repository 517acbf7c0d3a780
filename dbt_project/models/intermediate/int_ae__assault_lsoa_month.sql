-- A&E assault attendances by the patient's LSOA 2021 of residence × arrival month × age × whether
-- a sharp object was the mechanism: the numerator of the A&E indicators (dbt_project.yml). Patients
-- living outside the loaded areas, or of unknown residence, are counted in no area.
select
    residence_lsoa21_code           as lsoa21_code,
    month_start,
    age,
    is_sharp_object,
    count(*)                        as attendances
from {{ ref('int_ae__assault_attendance') }}
where residence_lsoa21_code is not null
group by all
