-- For age-standardised indicators whose events are not independent (one person may have several:
-- the catalogue's numerator.person names the column that says whose an event is), the sum over
-- persons of the square of their events, per indicator × area × period × ESP2013 band: Dobson's
-- variance for non-independent events (PHEindicatormethods calculate_dsr, independent_events =
-- FALSE) is Σ_f f² × the variance of the rate of persons with f events, which over the bands is
-- Σ_band w² × Σ_persons f² / n² / (Σ w)². For independent events that sum is the count itself.
-- A person's events are added over the area's LSOAs and the period's months (a month, the months of
-- a quarter or year, the twelve of a rolling window), then squared; int_indicator__value reads
-- these in place of the count in the variance. Only the sums leave this model, never a person.
{%- set repeat = [] %}
{%- for ind in lsoa_month_indicators() if ind.numerator.get('person') %}{% do repeat.append(ind) %}{% endfor %}
{%- set levels = [] %}
{%- for type in levels_published() %}{% do levels.append((type, area_levels()[type].code_column)) %}{% endfor %}

with person_month as (
    {%- for ind in repeat %}
    select '{{ ind.id }}' as indicator_id, s.lsoa21_code, s.month_start, esp.esp_band, s.{{ ind.numerator.person }} as person,
           sum(s.measure) as events
    from ({{ placed_counts(ind.numerator.model, ind.numerator.measure, ind.numerator.get('where', 'true'),
                           ['age', ind.numerator.person]) }}) as s
    join {{ ref('esp2013_age_band') }} as esp on s.age >= esp.age_from and (esp.age_to is null or s.age <= esp.age_to)
    {%- if ind.get('ages') %}
        and esp.age_from between {{ ind.ages[0] }} and {{ ind.ages[1] }}
    {%- endif %}
    where s.lsoa21_code is not null
    group by all
    union all
    {%- endfor %}
    select null::varchar as indicator_id, null::varchar as lsoa21_code, null::date as month_start,
           null::integer as esp_band, null::varchar as person, null::double as events
    where false
),

person_period as (
    -- every period each month is in (its own month, its quarter and years, twelve rolling windows)
    select p.indicator_id, 'month' as period_type, p.month_start as period_start, p.esp_band, p.lsoa21_code,
           p.person, p.events
    from person_month as p
    union all
    select p.indicator_id, m.period_type, m.period_start, p.esp_band, p.lsoa21_code, p.person, p.events
    from person_month as p
    join {{ ref('int_period__month_map') }} as m using (month_start)
    where m.period_type <> 'month'
),

person_lsoa as (
    select
        p.*,
        {%- for level, column in levels if column != 'lsoa21_code' %}
        h.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from person_period as p
    join {{ ref('int_area_hierarchy') }} as h on h.lsoa21_code = p.lsoa21_code
),

{% set person_keys = ['indicator_id', 'period_type', 'period_start', 'esp_band', 'person'] %}
person_area as (
    select
        indicator_id, period_type, period_start, esp_band, person,
        {{ area_rollup_columns(levels) | indent(8) }},
        sum(events)                                           as events
    from person_lsoa
    -- sqlfluff's DuckDB dialect (4.4) cannot parse GROUPING SETS yet; DuckDB itself can
    group by {{ area_grouping_sets(person_keys, levels) }}  -- noqa: PRS
)

select
    indicator_id, area_type, area_code, period_type, period_start, esp_band,
    sum(events * events) as events_squared
from person_area
where area_code is not null
group by all
