-- Numerator and denominator per indicator × LSOA × month (× ESP2013 age band for age-standardised
-- indicators; band 0 otherwise), generated from the catalogue (vars.indicators), zero-filled:
-- every LSOA of a police force area gets a row for every month the indicator's data was delivered
-- for that area (int_coverage__indicator_month), so areas with no events count 0 (not missing),
-- and an area whose force did not deliver gets no row at all (never a zero).
-- Records no LSOA holds (no map point) are rows with lsoa21_code null and unlocated_pfa_code the
-- reporting force's area, zero-filled per covered force area × month too: int_indicator__value
-- counts them at that area and above (macros/coverage.sql).
-- The denominator is the mid-year estimate for the month's year, or the nearest earlier one (the
-- earliest when the month precedes every estimate). Numerator models of age-standardised
-- indicators carry an `age` column.
-- Incremental: by-month indicators redo only changed months, the rest in full (refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__indicator_month') }} {{ ref('int_refresh__indicator') }} {{ ref('police_force') }}
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
    {%- if ind.method in age_banded_methods() %}
    select '{{ ind.id }}' as indicator_id, s.lsoa21_code, s.unlocated_pfa_code, s.month_start, esp.esp_band,
           sum(s.measure) as numerator
    from ({{ placed_counts(ind.numerator.model, ind.numerator.measure, ind.numerator.get('where', 'true'), ['age']) }}) as s
    join esp on s.age >= esp.age_from and (esp.age_to is null or s.age <= esp.age_to)
    {%- if ind.get('ages') %}
        and esp.age_from between {{ ind.ages[0] }} and {{ ind.ages[1] }}
    {%- endif %}
    {%- else %}
    select '{{ ind.id }}' as indicator_id, s.lsoa21_code, s.unlocated_pfa_code, s.month_start, 0 as esp_band,
           sum(s.measure) as numerator
    from ({{ placed_counts(ind.numerator.model, ind.numerator.measure, ind.numerator.get('where', 'true')) }}) as s
    {%- endif %}
    where {{ refresh_month_filter('s.month_start', indicator=ind.id) }}
    group by all
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

standardised as (
    select * from (values
    {%- for ind in catalogue %}
        ('{{ ind.id }}', {{ 'true' if ind.method in age_banded_methods() else 'false' }}){{ ',' if not loop.last }}
    {%- endfor %}
    ) as s (indicator_id, is_age_standardised)
),

coverage as (
    select c.indicator_id, c.pfa_code, c.month_start, s.is_age_standardised
    from {{ ref('int_coverage__indicator_month') }} as c
    join standardised as s using (indicator_id)
    where c.is_delivered
      and {{ refresh_month_filter('c.month_start', indicator_column='c.indicator_id') }}
),

-- the bands each indicator is counted in: 0 (all ages at once), or the ESP2013 bands of an
-- age-standardised one (those inside its `ages`, when it declares them)
indicator_bands as (
    {%- for ind in catalogue %}
    {%- if ind.method in age_banded_methods() %}
    select '{{ ind.id }}' as indicator_id, esp_band from esp
    {%- if ind.get('ages') %} where age_from between {{ ind.ages[0] }} and {{ ind.ages[1] }}{% endif %}
    {%- else %}
    select '{{ ind.id }}' as indicator_id, 0 as esp_band
    {%- endif %}
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
    join indicator_bands as b using (indicator_id)
),

population_denominators as (
    select
        lm.indicator_id,
        lm.lsoa21_code,
        lm.month_start,
        lm.esp_band,
        p.population_year,
        {%- if catalogue | selectattr('denominator.population') | list %}
        case lm.indicator_id
            {%- for ind in catalogue if ind.denominator.get('population') %}
            when '{{ ind.id }}' then p.{{ ind.denominator.population }}
            {%- endfor %}
        end as denominator
        {%- else %}
        null::double as denominator  -- (a catalogue may have no population denominators)
        {%- endif %}
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
    select '{{ ind.id }}' as indicator_id, s.lsoa21_code, s.unlocated_pfa_code, s.month_start, 0 as esp_band,
           sum(s.measure) as denominator
    from ({{ placed_counts(ind.denominator.model, ind.denominator.measure, ind.denominator.get('where', 'true')) }}) as s
    where {{ refresh_month_filter('s.month_start', indicator=ind.id) }}
    group by all
    {{ 'union all' if not loop.last }}
    {%- else %}
    select null::varchar as indicator_id, null::varchar as lsoa21_code, null::varchar as unlocated_pfa_code,
           null::date as month_start, 0 as esp_band, null::double as denominator
    where false
    {%- endfor %}
),

denominators as (
    select indicator_id, lsoa21_code, month_start, esp_band, population_year, denominator
    from population_denominators
    union all
    select m.indicator_id, m.lsoa21_code, m.month_start, m.esp_band, null::integer as population_year, m.denominator
    from model_denominators as m
    join lsoa_months as lm using (indicator_id, lsoa21_code, month_start, esp_band)
),

-- one row per covered force area × month × band for the records no LSOA holds (0 when none)
unlocated as (
    select
        c.indicator_id, c.pfa_code as unlocated_pfa_code, c.month_start, b.esp_band,
        coalesce(n.numerator, 0)                                             as numerator,
        coalesce(d.denominator, 0)                                           as denominator
    from coverage as c
    join indicator_bands as b using (indicator_id)
    left join numerators as n
        on n.lsoa21_code is null and n.indicator_id = c.indicator_id and n.unlocated_pfa_code = c.pfa_code
       and n.month_start = c.month_start and n.esp_band = b.esp_band
    left join model_denominators as d
        on d.lsoa21_code is null and d.indicator_id = c.indicator_id and d.unlocated_pfa_code = c.pfa_code
       and d.month_start = c.month_start and d.esp_band = b.esp_band
)

select
    d.indicator_id,
    d.lsoa21_code,
    null::varchar                      as unlocated_pfa_code,
    d.month_start,
    d.esp_band,
    coalesce(n.numerator, 0)::double   as numerator,
    d.denominator::double              as denominator,
    d.population_year
from denominators as d
left join numerators as n using (indicator_id, lsoa21_code, month_start, esp_band)
union all
select
    indicator_id,
    null::varchar                      as lsoa21_code,
    unlocated_pfa_code,
    month_start,
    esp_band,
    numerator::double                  as numerator,
    denominator::double                as denominator,
    null::integer                      as population_year
from unlocated
