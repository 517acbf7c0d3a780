-- Police recorded crime at its finest published grain. police.uk data is already public at
-- record level, so no disclosure control is needed here.
select
    lsoa21_code::varchar  as lsoa21_code,
    month_start::date     as month_start,
    crime_type::varchar   as crime_type,
    crime_count::double   as crime_count
from {{ ref('int_police__crime_lsoa_month') }}
