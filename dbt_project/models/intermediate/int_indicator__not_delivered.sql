-- The area-periods an indicator expected and did not get whole: some month of the period, for
-- some police force area the area touches, was not delivered by every source deciding the
-- indicator's coverage (int_coverage__indicator_month), or (areas spanning forces) some force
-- area in it never delivered. Such an area-period has no value in int_indicator__value; the mart
-- publishes it with no value and the note "not delivered", never as a low rate. Periods reaching
-- before the indicator's first delivered month or after its last are not yet periods, as there.
-- An area-period of a source arriving at another grain whose figure the source itself withheld
-- (a DfE symbol, in the area's own row or one of the rows summed into it) is published with the
-- note "withheld by the source", never as the sum of the rest.
{%- set levels = [] %}
{%- for type in levels_published() %}{% do levels.append((type, area_levels()[type].code_column)) %}{% endfor %}

with hierarchy as (
    select * from {{ ref('int_area_hierarchy') }}
),

declared as (
    select * from (values
    {%- for ind in lsoa_month_indicators() %}
        {%- set outer = loop %}
        {%- for period_type in ind.period_types %}
        ('{{ ind.id }}', '{{ period_type }}', '{{ ind.area_types | join(",") }}')
        {{- ',' if not (outer.last and loop.last) }}
        {%- endfor %}
    {%- endfor %}
    ) as d (indicator_id, period_type, area_types)
),

pfa_period as (
    select
        c.indicator_id, m.period_type, m.period_start, m.period_end, c.pfa_code,
        bool_and(c.is_delivered) as is_delivered
    from {{ ref('int_coverage__indicator_month') }} as c
    join {{ ref('int_period__month_map') }} as m using (month_start)
    join declared as d on d.indicator_id = c.indicator_id and d.period_type = m.period_type
    group by all
    having count(*) = any_value(m.months_in_period)
),

-- each area with the force areas it touches, at every level
area_force as (
    {%- for level, column in levels %}
    select '{{ level }}' as area_type, area_code, pfa_code, count(*) over (partition by area_code) as pfas
    from (select distinct {{ column }} as area_code, pfa_code from hierarchy)
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

-- only the area-periods some force area left short are expanded to areas (nationally, almost
-- every force-period is delivered, so this stays small instead of every area × period)
area_period as (
    -- areas touching a force area that did not deliver the whole period
    select distinct p.indicator_id, p.period_type, p.period_start, p.period_end, a.area_type, a.area_code
    from pfa_period as p
    join area_force as a using (pfa_code)
    where not p.is_delivered
    union
    -- areas spanning force areas of which some have no such period at all
    select p.indicator_id, p.period_type, p.period_start, p.period_end, a.area_type, a.area_code
    from pfa_period as p
    join area_force as a using (pfa_code)
    where a.pfas > 1
    group by all
    having count(distinct p.pfa_code) < any_value(a.pfas)
),

-- indicators arriving at another grain (DfE by authority × academic year): an area-period whose
-- own row, or a row of an area inside it, the source published without the figure (a symbol)
withheld as (
    {%- set level_of = area_levels() %}
    {%- set periods = period_types() %}
    {%- for ind in other_grain_indicators() %}
    {%- set level, period_type = numerator_grain(ind) %}
    {%- set given = ind.numerator.get('published_levels', []) %}
    select
        '{{ ind.id }}' as indicator_id,
        {% if given %}n.area_type{% else %}'{{ level }}'{% endif %} as child_area_type,
        {% if given %}n.area_code{% else %}n.{{ level_of[level].code_column }}{% endif %} as child_area_code,
        '{{ period_type }}' as period_type,
        n.period_start::date as period_start,
        (n.period_start::date + interval {{ periods[period_type].months }} month - interval 1 day)::date as period_end,
        '{{ ind.area_types | join(",") }}' as area_types
    from {{ ref(ind.numerator.model) }} as n
    where {{ ind.numerator.get('where', 'true') }}
      {%- if given %}
      and n.area_type in ({{ sql_list([level] + given) }})
      {%- endif %}
    group by all
    having count(*) > count(n.{{ ind.numerator.measure }})
    union all
    {%- endfor %}
    select null::varchar as indicator_id, null::varchar as child_area_type, null::varchar as child_area_code,
           null::varchar as period_type, null::date as period_start, null::date as period_end,
           null::varchar as area_types
    where false
),

withheld_areas as (
    select distinct
        w.indicator_id, l.area_code, l.area_type, w.period_type, w.period_start, w.period_end
    from withheld as w
    join {{ ref('int_area_link') }} as l using (child_area_type, child_area_code)
    where list_contains(string_split(w.area_types, ','), l.area_type)
      and not exists (
          select 1 from {{ ref('int_indicator__value') }} as v
          where v.indicator_id = w.indicator_id and v.area_code = l.area_code and v.area_type = l.area_type
            and v.period_type = w.period_type and v.period_start = w.period_start)
)

select
    indicator_id, area_code, area_type, period_type, period_start, period_end,
    'withheld by the source' as value_note
from withheld_areas
union all
select
    a.indicator_id, a.area_code, a.area_type, a.period_type, a.period_start, a.period_end,
    'not delivered' as value_note
from area_period as a
join declared as d using (indicator_id, period_type)
where list_contains(string_split(d.area_types, ','), a.area_type)
  and not exists (
      select 1 from {{ ref('int_indicator__value') }} as v
      where v.indicator_id = a.indicator_id and v.area_code = a.area_code and v.area_type = a.area_type
        and v.period_type = a.period_type and v.period_start = a.period_start)
