-- Which reporting periods each month with data belongs to: the month itself, its calendar
-- quarter, calendar year, financial year (April–March), academic year (September–August) and the
-- twelve rolling 12-month periods that contain it. months_in_period says how many months a
-- complete period has, so incomplete periods can be held back.
{%- set models = [] -%}
{%- for ind in indicator_catalogue() -%}
  {%- if ind.numerator.model not in models -%}{%- do models.append(ind.numerator.model) -%}{%- endif -%}
{%- endfor %}

with months as (
    {%- for model in models %}
    select distinct month_start from {{ ref(model) }}
    {{ 'union' if not loop.last }}
    {%- endfor %}
),

periods as (
    select 'month' as period_type, month_start as period_start, month_start, 1 as months_in_period from months
    union all
    select 'quarter', date_trunc('quarter', month_start), month_start, 3 from months
    union all
    select 'calendar_year', date_trunc('year', month_start), month_start, 12 from months
    union all
    select 'financial_year',
           make_date(year(month_start) - case when month(month_start) < 4 then 1 else 0 end, 4, 1), month_start, 12
    from months
    union all
    select 'academic_year',
           make_date(year(month_start) - case when month(month_start) < 9 then 1 else 0 end, 9, 1), month_start, 12
    from months
    union all
    -- rolling 12 months ending in each of the 12 months from this one onwards
    select 'rolling_12_months', (month_start + to_months(k - 11))::date, month_start, 12
    from months, range(0, 12) as r(k)
)

select
    period_type,
    period_start::date                                                  as period_start,
    (period_start + to_months(months_in_period) - interval 1 day)::date as period_end,
    month_start,
    months_in_period
from periods
