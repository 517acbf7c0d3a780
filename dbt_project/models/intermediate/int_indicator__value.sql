-- Every catalogue indicator for every declared period type and area level, summed up from LSOA ×
-- month (numerators added; population denominators averaged over the period's months, count
-- denominators added; both then added over areas: never an average of rates), with its value and
-- 95% and 99.8% confidence limits by the declared method, before disclosure control. Only
-- complete periods (every month delivered) are kept, and an area only when every police force
-- area it touches delivered (int_coverage__indicator_month): int_indicator__not_delivered says
-- which area-periods are missing.
-- Records no LSOA holds count at the reporting force's area and the levels above it (force
-- totals, as forces publish them), never below; numerator_located and located_share say how many
-- of an area's records could be placed (below force level: its force's share).
-- Age-standardised indicators are summed by ESP2013 band first, then standardised per area.
-- Incremental: by-month indicators redo only the periods containing changed months, the rest in
-- full (macros/refresh_scope.sql).
-- Numerators arriving at another grain (a local authority × academic year, say: the catalogue's
-- numerator.area_level and numerator.period_type) are summed up only to the levels that area
-- lies wholly inside (int_area_link), never below it, and a parent gets a value only when every
-- one of its areas at that grain reported for the period; the denominator is the population of
-- the area itself, or a count from a model at the same grain. A source that publishes its own
-- totals above its level (numerator.published_levels: DfE's regional and national rows) has
-- them used as given there, never summed from below; a figure it withheld (null) leaves every
-- sum containing it null.
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_periods() }}") }}
{%- set levels = [] %}
{%- for type in levels_published() %}{% do levels.append((type, area_levels()[type].code_column)) %}{% endfor %}
{#- the levels a force's unlocated records count at: the force area and every level above it -#}
{%- set force_levels = ['pfa'] + area_levels()['pfa'].ancestors %}
{%- set all_columns = [] %}
{%- for level in var('area_levels') %}{% do all_columns.append(level.code_column) %}{% endfor %}

with hierarchy as (
    select * from {{ ref('int_area_hierarchy') }}
),

lsoa_month as (
    select
        l.indicator_id, l.lsoa21_code, l.month_start, l.esp_band, l.numerator, l.denominator, l.population_year,
        {%- for column in all_columns if column != 'lsoa21_code' %}
        h.{{ column }},
        {%- endfor %}
        true as is_located
    from {{ ref('int_indicator__lsoa_month') }} as l
    join hierarchy as h using (lsoa21_code)
    union all by name
    select
        l.indicator_id, l.month_start, l.esp_band, l.numerator, l.denominator, l.population_year,
        {%- for level in var('area_levels') if level.type in force_levels %}
        f.{{ level.code_column }},
        {%- endfor %}
        false as is_located
    from {{ ref('int_indicator__lsoa_month') }} as l
    join (
        select distinct
            {%- for level in var('area_levels') if level.type in force_levels %}
            {{ level.code_column }}{{ ',' if not loop.last }}
            {%- endfor %}
        from hierarchy
    ) as f on l.unlocated_pfa_code = f.pfa_code
    where l.lsoa21_code is null
),

declared as (
    -- the period types each indicator is published for, and whether its denominator is a
    -- population (a stock: averaged over the period's months) or a count (a flow: summed)
    select * from (values
    {%- for ind in indicator_catalogue() %}
        {%- set outer = loop %}
        {%- for period_type in ind.period_types %}
        ('{{ ind.id }}', '{{ period_type }}', {{ 'true' if ind.denominator.get('model') else 'false' }})
        {{- ',' if not (outer.last and loop.last) }}
        {%- endfor %}
    {%- endfor %}
    ) as d (indicator_id, period_type, denominator_is_count)
),

lsoa_period as (
    select
        l.indicator_id, m.period_type, m.period_start, m.period_end, l.esp_band, l.is_located,
        {%- for level, column in levels %}
        l.{{ column }},
        {%- endfor %}
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
        coalesce({{ levels | map(attribute=1) | join(', ') }}) as area_code,
        sum(numerator)                                       as numerator,
        sum(numerator) filter (where is_located)             as numerator_located,
        sum(denominator)                                     as denominator,
        count(distinct pfa_code)                             as pfas_delivered
    from lsoa_period
    -- sqlfluff's DuckDB dialect (4.4) cannot parse GROUPING SETS yet; DuckDB itself can
    group by grouping sets (  -- noqa: PRS
    {%- for level, column in levels %}
        (indicator_id, period_type, period_start, period_end, esp_band, {{ column }}){{ ',' if not loop.last }}
    {%- endfor %}
    )
),

{%- set others = other_grain_indicators() %}
{%- set level_of = area_levels() %}
{%- set periods = period_types() %}

other_numerators as (
    -- at the source's own level; and, for a source that publishes its own totals above it
    -- (numerator.published_levels: DfE's regional and national rows), those rows as given. A
    -- figure the source withheld (null) stays null in any sum, never a partial total.
    {%- for ind in others %}
    {%- set level, period_type = numerator_grain(ind) %}
    {%- set given = ind.numerator.get('published_levels', []) %}
    select '{{ ind.id }}' as indicator_id,
           {% if given %}n.area_type{% else %}'{{ level }}'{% endif %} as child_area_type,
           {% if given %}n.area_code{% else %}n.{{ level_of[level].code_column }}{% endif %} as child_area_code,
           {% if given %}n.area_type <> '{{ level }}'{% else %}false{% endif %} as is_given,
           '{{ period_type }}' as period_type, n.period_start::date as period_start,
           (n.period_start::date + interval {{ periods[period_type].months }} month - interval 1 day)::date as period_end,
           case when count(*) = count(n.{{ ind.numerator.measure }}) then sum(n.{{ ind.numerator.measure }}) end
               as numerator
    from {{ ref(ind.numerator.model) }} as n
    where {{ ind.numerator.get('where', 'true') }}
      and {{ refresh_period_filter("'" ~ ind.id ~ "'", "'" ~ period_type ~ "'", 'n.period_start') }}
      {%- if given %}
      and n.area_type in ({{ sql_list([level] + given) }})
      {%- endif %}
    group by all
    union all
    {%- endfor %}
    select null::varchar as indicator_id, null::varchar as child_area_type, null::varchar as child_area_code,
           null::boolean as is_given, null::varchar as period_type, null::date as period_start,
           null::date as period_end, null::double as numerator
    where false
),

other_denominators as (
    {%- for ind in others %}
    {%- set level, period_type = numerator_grain(ind) %}
    {%- set given = ind.numerator.get('published_levels', []) %}
    {%- if ind.denominator.get('model') %}
    select '{{ ind.id }}' as indicator_id,
           {% if given %}d.area_type{% else %}'{{ level }}'{% endif %} as child_area_type,
           {% if given %}d.area_code{% else %}d.{{ level_of[level].code_column }}{% endif %} as child_area_code,
           d.period_start::date as period_start,
           case when count(*) = count(d.{{ ind.denominator.measure }}) then sum(d.{{ ind.denominator.measure }}) end
               as denominator
    from {{ ref(ind.denominator.model) }} as d
    where {{ ind.denominator.get('where', 'true') }}
      {%- if given %}
      and d.area_type in ({{ sql_list([level] + given) }})
      {%- endif %}
    group by all
    {%- else %}
    -- the area's own population: its LSOAs' summed, for the period's year (else the nearest earlier)
    select n.indicator_id, n.child_area_type, n.child_area_code, n.period_start, p.denominator
    from (select distinct indicator_id, child_area_type, child_area_code, period_start from other_numerators
          where indicator_id = '{{ ind.id }}') as n
    join (select l.area_code, p.population_year, sum(p.{{ ind.denominator.population }}) as denominator
          from {{ ref('int_population__lsoa_year') }} as p
          join {{ ref('int_area_link') }} as l
            on l.child_area_type = 'lsoa' and l.child_area_code = p.lsoa21_code and l.area_type = '{{ level }}'
          group by all) as p on p.area_code = n.child_area_code
    qualify row_number() over (partition by n.indicator_id, n.child_area_code, n.period_start
        order by (p.population_year <= year(n.period_start)) desc,
                 case when p.population_year <= year(n.period_start) then -p.population_year
                      else p.population_year end) = 1
    {%- endif %}
    union all
    {%- endfor %}
    select null::varchar as indicator_id, null::varchar as child_area_type, null::varchar as child_area_code,
           null::date as period_start, null::double as denominator
    where false
),

-- the levels an indicator's source publishes itself: never also summed up from below
given_levels as (
    select null::varchar as indicator_id, null::varchar as area_type where false
    {%- for ind in others %}
    {%- for given in ind.numerator.get('published_levels', []) %}
    union all
    select '{{ ind.id }}', '{{ given }}'
    {%- endfor %}
    {%- endfor %}
),

other_rolled_up as (
    select
        n.indicator_id, n.period_type, n.period_start, n.period_end, l.area_type, l.area_code,
        sum(n.numerator)                                                    as numerator,
        sum(d.denominator)                                                  as denominator,
        null::double                                                        as dsr,
        null::double                                                        as dsr_variance
    from other_numerators as n
    join other_denominators as d using (indicator_id, child_area_type, child_area_code, period_start)
    join {{ ref('int_area_link') }} as l using (child_area_type, child_area_code)
    where not n.is_given
      and l.area_type in ({{ sql_list(levels_published()) }})
      and not exists (select 1 from given_levels as g where g.indicator_id = n.indicator_id and g.area_type = l.area_type)
    group by all
    -- every area of the source's level inside the parent reported, and none withheld its figure
    having count(*) = any_value(l.areas_in_parent)
       and count(n.numerator) = count(*) and count(d.denominator) = count(*)
    union all
    -- the source's own totals above its level, as published
    select
        n.indicator_id, n.period_type, n.period_start, n.period_end, n.child_area_type as area_type,
        n.child_area_code as area_code, n.numerator, d.denominator, null::double as dsr, null::double as dsr_variance
    from other_numerators as n
    join other_denominators as d using (indicator_id, child_area_type, child_area_code, period_start)
    where n.is_given and n.numerator is not null and d.denominator is not null
),

rolled_up as (
    -- over age bands: counts and populations add; the DSR and its variance are built from the
    -- bands with a population (band 0 carries crude-rate and proportion indicators)
    select
        b.indicator_id, b.period_type, b.period_start, b.period_end, b.area_type, b.area_code,
        sum(b.numerator)                                                                   as numerator,
        sum(b.numerator_located)                                                           as numerator_located,
        sum(b.denominator)                                                                 as denominator,
        min(b.pfas_delivered)                                                              as pfas_delivered,
        {{ dsr_value('b.numerator', 'b.denominator', 'esp.standard_population', 1) }}     as dsr,
        {{ dsr_variance('b.numerator', 'b.denominator', 'esp.standard_population', 1) }}  as dsr_variance
    from rolled_up_bands as b
    left join {{ ref('esp2013_age_band') }} as esp
        on esp.esp_band = b.esp_band and b.denominator > 0
    group by all
    union all by name
    select * from other_rolled_up
),

-- the force areas each area touches: an area is valued only when all of them delivered
area_pfas as (
    {%- for level, column in levels %}
    select '{{ level }}' as area_type, {{ column }} as area_code, count(distinct pfa_code) as pfas
    from hierarchy group by all
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

complete as (
    select r.*
    from rolled_up as r
    left join area_pfas as a using (area_type, area_code)
    where r.pfas_delivered is null or r.pfas_delivered = a.pfas
),

area_force as (
    {%- for level, column in levels if level not in force_levels %}
    select distinct '{{ level }}' as area_type, {{ column }} as area_code, pfa_code from hierarchy
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

-- the share of records that could be placed: an area's own at force level and above, its
-- force's below (the records no LSOA holds belong to no smaller area)
located as (
    select
        c.* exclude (pfas_delivered),  -- noqa: RF02
        coalesce(f.numerator_located / nullif(f.numerator, 0),
                 c.numerator_located / nullif(c.numerator, 0))  as located_share,
        p.pfa_code                                              as located_share_pfa_code
    from complete as c
    left join area_force as p using (area_type, area_code)
    left join rolled_up as f
        on f.area_type = 'pfa' and f.area_code = p.pfa_code and f.indicator_id = c.indicator_id
       and f.period_type = c.period_type and f.period_start = c.period_start
),

catalogue as (
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', {{ ind.multiplier }}, '{{ ind.method }}', '{{ ind.area_types | join(",") }}'){{ ',' if not loop.last }}
    {%- endfor %}
    ) as c (indicator_id, multiplier, method, area_types)
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
    r.numerator_located,
    r.located_share,
    r.located_share_pfa_code,
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
        when 'dsr' then {{ dobson_limit('lower', 'r.dsr * c.multiplier', 'r.dsr_variance * c.multiplier ^ 2', 'r.numerator',
                                        0.998) }}
        when 'proportion' then {{ wilson_limit('lower', 'r.numerator', 'r.denominator', 'c.multiplier', 0.998) }}
        else {{ crude_rate_limit('lower', 'r.numerator', 'r.denominator', 'c.multiplier', 'e998.lower_events', 0.998) }}
    end as lower_ci_998,
    case c.method
        when 'dsr' then {{ dobson_limit('upper', 'r.dsr * c.multiplier', 'r.dsr_variance * c.multiplier ^ 2', 'r.numerator',
                                        0.998) }}
        when 'proportion' then {{ wilson_limit('upper', 'r.numerator', 'r.denominator', 'c.multiplier', 0.998) }}
        else {{ crude_rate_limit('upper', 'r.numerator', 'r.denominator', 'c.multiplier', 'e998.upper_events', 0.998) }}
    end as upper_ci_998
from located as r
join catalogue as c using (indicator_id)
left join exact as e95 on e95.events = r.numerator and e95.confidence = 0.95
left join exact as e998 on e998.events = r.numerator and e998.confidence = 0.998
where r.area_code is not null
  and r.denominator > 0
  and list_contains(string_split(c.area_types, ','), r.area_type)
