-- Police recorded crime counted at its finest grain: LSOA 2021 × month × crime type.
-- Records with no LSOA (no map point within 20 km) cannot be placed in an area and are left
-- out here; they remain countable in staging and the load manifest.
select
    lsoa_code_as_published as lsoa21_code,
    month_start,
    crime_type,
    count(*) as crime_count
from {{ ref('stg_police__street') }}
where lsoa_code_as_published is not null
group by all
