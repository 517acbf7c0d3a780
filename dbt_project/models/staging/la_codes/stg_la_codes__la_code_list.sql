-- Local authorities (all tiers, the whole UK) as published. The file's population has no year,
-- so it is named for that and used as no denominator.
select
    area_code,
    area_name,
    area_type,
    population as population_year_unstated
from {{ source('la_codes', 'la_code_list') }}
