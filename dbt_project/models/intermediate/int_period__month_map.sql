-- Which reporting periods each month with data (or expected data) belongs to (var period_types): the month itself,
-- its calendar quarter, calendar year, financial year (April–March), academic year
-- (September–August) and the twelve rolling 12-month periods that contain it. months_in_period
-- says how many months a complete period has, so incomplete periods can be held back.
{%- set models = [] -%}
{%- for ind in lsoa_month_indicators() -%}
  {%- if ind.numerator.model not in models -%}{%- do models.append(ind.numerator.model) -%}{%- endif -%}
{%- endfor %}

with months as (
    {%- for model in models %}
    select distinct month_start from {{ ref(model) }}
    union
    {%- endfor %}
    -- and months a source was expected and did not deliver (published as not delivered)
    select distinct month_start from {{ ref('int_coverage__indicator_month') }}
),

periods as (
    -- from var period_types: a period of `months` months starting in `first_month` contains a
    -- month m when it starts (m - first_month) mod months months earlier; a rolling period of
    -- `months` months ends in each of the `months` months from m onwards
    {%- for p in var('period_types') %}
    {%- if p.get('rolling') %}
    select '{{ p.type }}' as period_type, (months.month_start + to_months(r.k - {{ p.months - 1 }}))::date as period_start,
           months.month_start, {{ p.months }} as months_in_period
    from months, range(0, {{ p.months }}) as r (k)
    {%- else %}
    select '{{ p.type }}' as period_type,
           (month_start - to_months((month(month_start) - {{ p.first_month }} + 12) % {{ p.months }}))::date as period_start,
           month_start, {{ p.months }} as months_in_period
    from months
    {%- endif %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    period_type,
    period_start::date                                                  as period_start,
    (period_start + to_months(months_in_period) - interval 1 day)::date as period_end,
    month_start,
    months_in_period
from periods
