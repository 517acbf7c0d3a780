-- Numerator and denominator per indicator × LSOA × month (× ESP2013 age band for age-standardised
-- indicators; band 0 otherwise), generated from the catalogue (vars.indicators), zero-filled:
-- every LSOA of a police force area gets a row for every month its source delivered for that
-- force, so areas with no events count 0 (not missing). The denominator is the mid-year estimate
-- for the month's year, or the nearest earlier one (the earliest when the month precedes every
-- estimate). Numerator models of age-standardised indicators carry an `age` column.
-- Incremental: by-month indicators redo only changed months, the rest in full (refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__indicator_month') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_months('indicator_id') }}") }}
{%- set catalogue = lsoa_month_indicators() %}

with hierarchy as (
    select * from {{ ref('int_area_hierarchy') }}
),

esp as (
    select esp_band, age_from, age_to from {{ ref('esp2013_age_band') }}
),

numerators as (
    {%- for ind in catalogue %}
    {%- if ind.method == 'dsr' %}
    select '{{ ind.id }}' as indicator_id, s.lsoa21_code, s.month_start, esp.esp_band,
           sum(s.{{ ind.numerator.measure }}) as numerator
    from {{ ref(ind.numerator.model) }} as s
    join esp on s.age >= esp.age_from and (esp.age_to is null or s.age <= esp.age_to)
    {%- else %}
    select '{{ ind.id }}' as indicator_id, s.lsoa21_code, s.month_start, 0 as esp_band,
           sum(s.{{ ind.numerator.measure }}) as numerator
    from {{ ref(ind.numerator.model) }} as s
    {%- endif %}
    where {{ ind.numerator.get('where', 'true') }}
      and {{ refresh_month_filter('s.month_start', indicator=ind.id) }}
    group by all
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

coverage as (
    {%- for ind in catalogue %}
    select distinct '{{ ind.id }}' as indicator_id, h.pfa_code, s.month_start,
           {{ 'true' if ind.method == 'dsr' else 'false' }} as is_age_standardised
    from {{ ref(ind.numerator.model) }} as s
    join hierarchy as h using (lsoa21_code)
    where {{ refresh_month_filter('s.month_start', indicator=ind.id) }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

population as (
    select lsoa21_code, population_year, 0 as esp_band,
           population_all_ages, population_aged_10_24, population_aged_under_25
    from {{ ref('int_population__lsoa_year') }}
    union all
    select lsoa21_code, population_year, esp_band, population, null as population_aged_10_24, null as population_aged_under_25
    from {{ ref('int_population__lsoa_esp_band') }}
),

lsoa_months as (
    select c.indicator_id, h.lsoa21_code, c.month_start, b.esp_band
    from coverage as c
    join hierarchy as h using (pfa_code)
    join (select esp_band, true as is_age_standardised from esp
          union all
          select 0 as esp_band, false as is_age_standardised) as b using (is_age_standardised)
),

population_denominators as (
    select
        lm.indicator_id,
        lm.lsoa21_code,
        lm.month_start,
        lm.esp_band,
        p.population_year,
        case lm.indicator_id
            {%- for ind in catalogue if ind.denominator.get('population') %}
            when '{{ ind.id }}' then p.{{ ind.denominator.population }}
            {%- endfor %}
        end as denominator
    from lsoa_months as lm
    join population as p using (lsoa21_code, esp_band)
    where lm.indicator_id in ({{ sql_list(catalogue | selectattr('denominator.population') | map(attribute='id') | list) }})
    qualify row_number() over (
        partition by lm.indicator_id, lm.lsoa21_code, lm.month_start, lm.esp_band
        order by (p.population_year <= year(lm.month_start)) desc,
                 case when p.population_year <= year(lm.month_start)
                      then -p.population_year else p.population_year end
    ) = 1
),

-- denominators that are themselves counts (e.g. crimes, for the share of them charged)
model_denominators as (
    {%- for ind in catalogue if ind.denominator.get('model') %}
    select '{{ ind.id }}' as indicator_id, lsoa21_code, month_start, 0 as esp_band,
           null::integer as population_year, sum({{ ind.denominator.measure }}) as denominator
    from {{ ref(ind.denominator.model) }}
    where {{ ind.denominator.get('where', 'true') }}
      and {{ refresh_month_filter('month_start', indicator=ind.id) }}
    group by all
    {{ 'union all' if not loop.last }}
    {%- else %}
    select null::varchar as indicator_id, null::varchar as lsoa21_code, null::date as month_start,
           0 as esp_band, null::integer as population_year, null::double as denominator
    where false
    {%- endfor %}
),

denominators as (
    select indicator_id, lsoa21_code, month_start, esp_band, population_year, denominator
    from population_denominators
    union all
    select m.indicator_id, m.lsoa21_code, m.month_start, m.esp_band, m.population_year, m.denominator
    from model_denominators as m
    join lsoa_months as lm using (indicator_id, lsoa21_code, month_start, esp_band)
)

select
    d.indicator_id,
    d.lsoa21_code,
    d.month_start,
    d.esp_band,
    coalesce(n.numerator, 0)::double   as numerator,
    d.denominator::double              as denominator,
    d.population_year
from denominators as d
left join numerators as n using (indicator_id, lsoa21_code, month_start, esp_band)
