{#- When, where and how the assaults emergency departments see happen, from their ISTV (Cardiff
    Model) submissions: attendances per area × period × dimension × category, for the area each
    department stands in (seed ae_site: its district, and the partnership and force area above it).
    Dimensions: hour_day (ISO day of week and hour of the assault, of the arrival where the
    assault time is not known: '5-23' is Friday 23:00–23:59), location_type (seed
    ae_location_type), assault_method (seed ae_assault_method), and all (the total).
    Every category is zero-filled, so each dimension's categories add up to the total. A period is
    valued for an area only when every department in it (that ever submitted ISTV) submitted for
    every month of it. The counts are NHS-rule cells of the disclosure audit (int_disclosure__cell,
    one pseudo-indicator per dimension and category: ae_istv_profile:<dimension>:<category>);
    fct_ae_assault_profile publishes them rounded or hidden. -#}
{%- set levels = ['lad', 'csp', 'pfa'] %}
{%- set period_types = ['quarter', 'financial_year', 'rolling_12_months'] %}

with site_area as (
    select distinct s.site_code, h.lad_code, h.csp_code, h.pfa_code
    from {{ ref('ae_site') }} as s
    join {{ ref('int_area_hierarchy') }} as h on h.lad_code = s.lad_code
),

attendance as (
    select
        a.site_code,
        a.month_start,
        isodow(coalesce(a.assault_date, a.arrival_date))
        || '-' || lpad(hour(coalesce(a.assault_time, a.arrival_time))::varchar, 2, '0') as hour_day,
        l.location_type,
        m.assault_method
    from {{ ref('stg_ae__istv_attendance') }} as a
    left join {{ ref('ae_location_type') }} as l on l.istv_code = a.location_type_code
    left join {{ ref('ae_assault_method') }} as m on m.istv_code = a.assault_method_code
),

category as (
    select 'hour_day' as dimension, d.d || '-' || lpad(h.h::varchar, 2, '0') as category
    from range(1, 8) as d (d), range(0, 24) as h (h)
    union all
    select 'location_type' as dimension, location_type as category from {{ ref('ae_location_type') }}
    union all
    select 'assault_method' as dimension, assault_method as category from {{ ref('ae_assault_method') }}
    union all
    select 'all' as dimension, 'all' as category
),

periods as (
    select distinct period_type, period_start, period_end, month_start, months_in_period
    from {{ ref('int_period__month_map') }}
    where period_type in ({{ sql_list(period_types) }})
),

-- each ISTV site's months, delivered or not (int_coverage__delivery: a site that submitted once is
-- expected every month from the first submission of any site to the last)
site_month as (
    select reporting_unit as site_code, period_start as month_start, is_delivered
    from {{ ref('int_coverage__delivery') }}
    where source = 'ae_istv' and period_type = 'month'
),

complete as (
    {%- for level in levels %}
    select '{{ level }}' as area_type, s.{{ level }}_code as area_code, p.period_type, p.period_start, p.period_end
    from site_month as m
    join site_area as s using (site_code)
    join periods as p using (month_start)
    where s.{{ level }}_code is not null
    group by all
    having bool_and(m.is_delivered) and count(distinct m.month_start) = any_value(p.months_in_period)
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
),

counted as (
    select s.lad_code, s.csp_code, s.pfa_code, a.month_start, c.dimension, c.category, count(*) as attendances
    from attendance as a
    join site_area as s using (site_code)
    join category as c
        on (c.dimension = 'hour_day' and c.category = a.hour_day)
        or (c.dimension = 'location_type' and c.category = a.location_type)
        or (c.dimension = 'assault_method' and c.category = a.assault_method)
        or c.dimension = 'all'
    group by all
),

by_area as (
    {%- for level in levels %}
    select '{{ level }}' as area_type, {{ level }}_code as area_code, month_start, dimension, category, attendances
    from counted
    where {{ level }}_code is not null
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
)

select
    k.area_type,
    k.area_code,
    k.period_type,
    k.period_start,
    k.period_end,
    c.dimension,
    c.category,
    coalesce(sum(b.attendances), 0)::bigint as attendances
from complete as k
cross join category as c
left join periods as p
    on p.period_type = k.period_type and p.period_start = k.period_start
left join by_area as b
    on b.area_type = k.area_type and b.area_code = k.area_code and b.month_start = p.month_start
   and b.dimension = c.dimension and b.category = c.category
group by all
