-- Resident population by area and mid-year estimate year, at every level, summed from LSOAs
-- (so a LAD's population is exactly the sum of its LSOAs').
{%- set levels = [] %}
{%- for level in var('area_levels') %}{% do levels.append((level.type, level.code_column)) %}{% endfor %}

with lsoa as (
    select h.*, p.population_year, p.population_all_ages, p.population_aged_10_24, p.population_aged_under_25
    from {{ ref('int_area_hierarchy') }} as h
    join {{ ref('int_population__lsoa_year') }} as p using (lsoa21_code)
)

{% for level, code in levels %}
select
    {{ code }}::varchar                        as area_code,
    '{{ level }}'::varchar                     as area_type,
    population_year::integer                   as population_year,
    sum(population_all_ages)::bigint           as population_all_ages,
    sum(population_aged_10_24)::bigint         as population_aged_10_24,
    sum(population_aged_under_25)::bigint      as population_aged_under_25
from lsoa
where {{ code }} is not null
group by {{ code }}, population_year
{{ 'union all' if not loop.last }}
{% endfor %}
