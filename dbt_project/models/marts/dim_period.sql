-- Every period that has indicator values: months, quarters, calendar, financial (April–March)
-- and academic (September–August) years, and rolling 12 months (var period_types).
with periods as (
    select distinct period_type, period_start, period_end from {{ ref('int_indicator__value') }}
),

labelled as (
    select
        *,
        year(period_start) || '/' || right((year(period_start) + 1)::varchar, 2) as year_span,
        case when month(period_start) >= 4 then year(period_start) else year(period_start) - 1 end as fy_start,
        case when month(period_start) >= 9 then year(period_start) else year(period_start) - 1 end as ay_start
    from periods
)

select
    (period_type || ':' || strftime(period_start, '%Y-%m'))::varchar        as period_id,
    period_type::varchar                                                  as period_type,
    period_start::date                                                    as period_start,
    period_end::date                                                      as period_end,
    (case period_type
    {%- for p in var('period_types') %}
        when '{{ p.type }}' then
        {%- if p.label == 'year_span' %} year_span
        {%- elif p.label == 'quarter' %} year(period_start) || ' Q' || quarter(period_start)
        {%- elif p.label == 'range' %} strftime(period_start, '%b %Y') || ' – ' || strftime(period_end, '%b %Y')
        {%- else %} strftime(period_start, '{{ p.label }}')
        {%- endif %}
    {%- endfor %}
     end)::varchar                                                        as period_label,
    year(period_start)::integer                                           as calendar_year,
    (year(period_start) || '-Q' || quarter(period_start))::varchar         as calendar_quarter,
    (fy_start || '/' || right((fy_start + 1)::varchar, 2))::varchar        as financial_year,
    (ay_start || '/' || right((ay_start + 1)::varchar, 2))::varchar        as academic_year
from labelled
