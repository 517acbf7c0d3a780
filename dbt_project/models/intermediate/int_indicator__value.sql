-- Every catalogue indicator for every declared period type and area level, summed up from LSOA ×
-- month (numerators added; population denominators averaged over the period's months, count
-- denominators added; both then added over areas: never an average of rates), with its value and 95% and 99.8% confidence limits by the declared
-- method, before disclosure control. Only complete periods (every month delivered) are kept.
-- Age-standardised indicators are summed by ESP2013 band first, then standardised per area.
-- Incremental: by-month indicators redo only the periods containing changed months, the rest in
-- full (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_periods() }}") }}
{%- set levels = [('lsoa', 'lsoa21_code'), ('msoa', 'msoa21_code'), ('lad', 'lad_code'), ('utla', 'utla_code'),
                  ('csp', 'csp_code'), ('pfa', 'pfa_code')] %}
{%- if var('publish_national_levels') %}
{%- do levels.extend([('region', 'region_code'), ('country', 'country_code')]) %}
{%- endif %}

with lsoa_month as (
    select l.*, h.msoa21_code, h.lad_code, h.utla_code, h.csp_code, h.pfa_code, h.region_code, h.country_code
    from {{ ref('int_indicator__lsoa_month') }} as l
    join {{ ref('int_area_hierarchy') }} as h using (lsoa21_code)
),

declared as (
    -- the period types each indicator is published for, and whether its denominator is a
    -- population (a stock: averaged over the period's months) or a count (a flow: summed)
    select * from (values
    {%- for ind in indicator_catalogue() %}
        {%- set outer = loop %}
        {%- for period_type in ind.period_types %}
        ('{{ ind.id }}', '{{ period_type }}', {{ 'true' if ind.denominator.get('model') else 'false' }}){{ ',' if not (outer.last and loop.last) }}
        {%- endfor %}
    {%- endfor %}
    ) as d(indicator_id, period_type, denominator_is_count)
),

lsoa_period as (
    select
        l.indicator_id, m.period_type, m.period_start, m.period_end, l.esp_band,
        {%- for level, column in levels %} l.{{ column }},{% endfor %}
        sum(l.numerator)    as numerator,
        case when any_value(d.denominator_is_count) then sum(l.denominator) else avg(l.denominator) end as denominator
    from lsoa_month as l
    join {{ ref('int_period__month_map') }} as m using (month_start)
    join declared as d on d.indicator_id = l.indicator_id and d.period_type = m.period_type
    where {{ refresh_period_filter('l.indicator_id', 'm.period_type', 'm.period_start', complete_only=true) }}
    group by all
    having count(*) = any_value(m.months_in_period)
),

rolled_up_bands as (
    select
        indicator_id, period_type, period_start, period_end, esp_band,
        case
        {%- for level, column in levels %}
            when grouping({{ column }}) = 0 then '{{ level }}'
        {%- endfor %}
        end                                                  as area_type,
        coalesce({% for level, column in levels %}{{ column }}{{ ', ' if not loop.last }}{% endfor %}) as area_code,
        sum(numerator)                                       as numerator,
        sum(denominator)                                     as denominator
    from lsoa_period
    group by grouping sets (
    {%- for level, column in levels %}
        (indicator_id, period_type, period_start, period_end, esp_band, {{ column }}){{ ',' if not loop.last }}
    {%- endfor %}
    )
),

rolled_up as (
    -- over age bands: counts and populations add; the DSR and its variance are built from the
    -- bands with a population (band 0 carries crude-rate and proportion indicators)
    select
        b.indicator_id, b.period_type, b.period_start, b.period_end, b.area_type, b.area_code,
        sum(b.numerator)                                                                   as numerator,
        sum(b.denominator)                                                                 as denominator,
        {{ dsr_value('b.numerator', 'b.denominator', 'esp.standard_population', 1) }}     as dsr,
        {{ dsr_variance('b.numerator', 'b.denominator', 'esp.standard_population', 1) }}  as dsr_variance
    from rolled_up_bands as b
    left join {{ ref('esp2013_age_band') }} as esp
        on esp.esp_band = b.esp_band and b.denominator > 0
    group by all
),

catalogue as (
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', {{ ind.multiplier }}, '{{ ind.method }}', '{{ ind.area_types | join(",") }}'){{ ',' if not loop.last }}
    {%- endfor %}
    ) as c(indicator_id, multiplier, method, area_types)
),

exact as (
    select events, confidence, lower_events, upper_events from {{ ref('poisson_exact_limits') }}
)

select
    r.indicator_id,
    r.area_code,
    r.area_type,
    r.period_type,
    r.period_start,
    r.period_end,
    r.numerator,
    r.denominator,
    c.multiplier,
    c.method,
    case c.method
        when 'dsr' then r.dsr * c.multiplier
        else r.numerator / r.denominator * c.multiplier
    end as value,
    case c.method
        when 'dsr' then {{ dobson_limit('lower', 'r.dsr * c.multiplier', 'r.dsr_variance * c.multiplier ^ 2', 'r.numerator') }}
        when 'proportion' then {{ wilson_limit('lower', 'r.numerator', 'r.denominator', 'c.multiplier') }}
        else {{ crude_rate_limit('lower', 'r.numerator', 'r.denominator', 'c.multiplier', 'e95.lower_events') }}
    end as lower_ci_95,
    case c.method
        when 'dsr' then {{ dobson_limit('upper', 'r.dsr * c.multiplier', 'r.dsr_variance * c.multiplier ^ 2', 'r.numerator') }}
        when 'proportion' then {{ wilson_limit('upper', 'r.numerator', 'r.denominator', 'c.multiplier') }}
        else {{ crude_rate_limit('upper', 'r.numerator', 'r.denominator', 'c.multiplier', 'e95.upper_events') }}
    end as upper_ci_95,
    case c.method
        when 'dsr' then {{ dobson_limit('lower', 'r.dsr * c.multiplier', 'r.dsr_variance * c.multiplier ^ 2', 'r.numerator', 0.998) }}
        when 'proportion' then {{ wilson_limit('lower', 'r.numerator', 'r.denominator', 'c.multiplier', 0.998) }}
        else {{ crude_rate_limit('lower', 'r.numerator', 'r.denominator', 'c.multiplier', 'e998.lower_events', 0.998) }}
    end as lower_ci_998,
    case c.method
        when 'dsr' then {{ dobson_limit('upper', 'r.dsr * c.multiplier', 'r.dsr_variance * c.multiplier ^ 2', 'r.numerator', 0.998) }}
        when 'proportion' then {{ wilson_limit('upper', 'r.numerator', 'r.denominator', 'c.multiplier', 0.998) }}
        else {{ crude_rate_limit('upper', 'r.numerator', 'r.denominator', 'c.multiplier', 'e998.upper_events', 0.998) }}
    end as upper_ci_998
from rolled_up as r
join catalogue as c using (indicator_id)
left join exact as e95 on e95.events = r.numerator and e95.confidence = 0.95
left join exact as e998 on e998.events = r.numerator and e998.confidence = 0.998
where r.area_code is not null
  and r.denominator > 0
  and list_contains(string_split(c.area_types, ','), r.area_type)
