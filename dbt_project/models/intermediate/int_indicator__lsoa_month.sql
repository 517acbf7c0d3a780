-- Numerator and denominator per indicator × LSOA × month, generated from the catalogue
-- (vars.indicators in dbt_project.yml), zero-filled: every LSOA of a police force area gets a row
-- for every month its source delivered for that force, so areas with no events count 0 (not
-- missing). The denominator is the mid-year estimate for the month's year, or the nearest
-- earlier one (the earliest when the month precedes every estimate).
with hierarchy as (
    select * from {{ ref('int_area_hierarchy') }}
),

numerators as (
    {%- for ind in indicator_catalogue() %}
    select '{{ ind.id }}' as indicator_id, lsoa21_code, month_start,
           sum({{ ind.numerator.measure }}) as numerator
    from {{ ref(ind.numerator.model) }}
    where {{ ind.numerator.get('where', 'true') }}
    group by all
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

coverage as (
    {%- for ind in indicator_catalogue() %}
    select distinct '{{ ind.id }}' as indicator_id, h.pfa_code, s.month_start
    from {{ ref(ind.numerator.model) }} as s
    join hierarchy as h using (lsoa21_code)
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

population as (
    select * from {{ ref('int_population__lsoa_year') }}
),

lsoa_months as (
    select c.indicator_id, h.lsoa21_code, c.month_start
    from coverage as c
    join hierarchy as h using (pfa_code)
),

denominators as (
    select
        lm.indicator_id,
        lm.lsoa21_code,
        lm.month_start,
        p.population_year,
        case lm.indicator_id
            {%- for ind in indicator_catalogue() %}
            when '{{ ind.id }}' then p.{{ ind.denominator.population }}
            {%- endfor %}
        end as denominator
    from lsoa_months as lm
    join population as p using (lsoa21_code)
    qualify row_number() over (
        partition by lm.indicator_id, lm.lsoa21_code, lm.month_start
        order by (p.population_year <= year(lm.month_start)) desc,
                 case when p.population_year <= year(lm.month_start)
                      then -p.population_year else p.population_year end
    ) = 1
)

select
    d.indicator_id,
    d.lsoa21_code,
    d.month_start,
    coalesce(n.numerator, 0)::double   as numerator,
    d.denominator::double              as denominator,
    d.population_year
from denominators as d
left join numerators as n using (indicator_id, lsoa21_code, month_start)
