-- Trend of each yearly series, by a chi-squared test for trend (Cochran–Armitage) on counts and
-- denominators, with the direction in words through the indicator's polarity. Only comparable
-- periods are tested (issue 18): the period types of 12 months (var period_types), each point a
-- year after the one before, so season cannot pass for trend. A calendar, financial or academic
-- year is tested over consecutive years; rolling 12 months over the window ending in the latest
-- window's end month and those 12, 24, … months before it (non-overlapping, so independent).
-- Months and quarters are never tested and have no row: a fall after a seasonal peak is not a
-- trend. The points are the unbroken run of years ending at the latest (a year not delivered
-- ends it), at most vars.trend_periods, tested from vars.trend_min_periods; `periods` says how
-- many. Computed from the published cells only (int_indicator__disclosed: counts as published,
-- rounded to 5 under the NHS rule), and not at all where any point is suppressed (hidden, or
-- with no value), so the statistic can never give back a count that disclosure control hid
-- (tests/test_disclosure_attack.py recomputes every published statistic from published cells).
{%- set k = var('trend_periods') %}
{%- set min_k = var('trend_min_periods') %}
{%- if not (2 <= min_k <= k) %}
    {{ exceptions.raise_compiler_error("vars.trend_min_periods (" ~ min_k ~ ") must be from 2 to vars.trend_periods (" ~ k ~ ")") }}
{%- endif %}
{%- set yearly = [] %}
{%- for p in var('period_types') if p.months == 12 %}{% do yearly.append(p.type) %}{% endfor %}
with value as (
    select * from {{ ref('int_indicator__disclosed') }}
    where period_type in ('{{ yearly | join("', '") }}')
      -- an indirectly standardised one divides by an expected count, not a population at risk:
      -- a test for trend in proportions says nothing of it
      and method not in ('isratio', 'israte')
),

polarity as (
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', '{{ ind.polarity }}'){{ ',' if not loop.last }}
    {%- endfor %}
    ) as p (indicator_id, polarity)
),

years_back as (
    select
        *,
        datediff('month', period_start,
                 max(period_start) over (partition by indicator_id, area_code, area_type, period_type)) / 12
            as years_back
    from value
),

-- the latest period and those whole years before it, while no year is missing: the n-th most
-- recent of them is n − 1 years back only until the first gap
recent as (
    select * from years_back
    where years_back = floor(years_back) and years_back < {{ k }}
    qualify row_number() over (partition by indicator_id, area_code, area_type, period_type
                               order by period_start desc) = years_back + 1
),

sums as (
    select
        indicator_id, area_code, area_type, period_type,
        max(period_start)                                       as latest_period_start,
        count(*)                                                as periods,
        bool_or(is_suppressed or numerator is null or denominator is null) as any_suppressed,
        sum(numerator)                                          as events,
        sum(denominator)                                        as total,
        -- time score: any equally spaced score gives the same statistic (its shift cancels),
        -- so minus the years back stands for 1 for the oldest … n for the latest
        sum(numerator * -years_back)                            as sum_ot,
        sum(denominator * -years_back)                          as sum_nt,
        sum(denominator * years_back * years_back)              as sum_ntt
    from recent
    group by all
),

tested as (
    select
        *,
        sum_ot - events / total * sum_nt                                      as score,
        events / total * (1 - events / total) * (sum_ntt - sum_nt * sum_nt / total) as variance
    from sums
),

judged as (
    select
        *,
        coalesce(periods >= {{ min_k }} and not any_suppressed and events > 0 and variance > 0, false) as can_test
    from tested
)

select
    t.indicator_id::varchar                                              as indicator_id,
    t.area_code::varchar                                                 as area_code,
    t.area_type::varchar                                                 as area_type,
    t.period_type::varchar                                               as period_type,
    t.latest_period_start::date                                          as latest_period_start,
    t.periods::integer                                                   as periods,
    (case when t.can_test then t.score * t.score / t.variance end)::double as chi_squared,
    (case
        when not t.can_test then 'could not be calculated'
        when t.score * t.score / t.variance <= 3.841458820694124 then 'no significant change'
        when t.score > 0 then
            case p.polarity when 'lower_is_better' then 'increasing and getting worse'
                            when 'higher_is_better' then 'increasing and getting better' else 'increasing' end
        else
            case p.polarity when 'lower_is_better' then 'decreasing and getting better'
                            when 'higher_is_better' then 'decreasing and getting worse' else 'decreasing' end
    end)::varchar                                                        as trend
from judged as t
join polarity as p using (indicator_id)
