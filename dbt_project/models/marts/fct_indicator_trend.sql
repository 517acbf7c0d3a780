-- Trend over the most recent periods (vars.trend_periods, five as Fingertips shows), by a
-- chi-squared test for trend (Cochran–Armitage) on counts and denominators, with the direction in
-- words through the indicator's polarity. Rolling periods overlap and are not tested.
-- Computed from the published cells only (int_indicator__disclosed: counts as published, rounded
-- to 5 under the NHS rule), and not at all where any period of the window is suppressed (hidden,
-- or with no value), so the statistic can never give back a count that disclosure control hid
-- (tests/test_disclosure_attack.py recomputes every published statistic from published cells).
{%- set k = var('trend_periods') %}
with value as (
    select * from {{ ref('int_indicator__disclosed') }}
    where period_type <> 'rolling_12_months'
),

polarity as (
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', '{{ ind.polarity }}'){{ ',' if not loop.last }}
    {%- endfor %}
    ) as p (indicator_id, polarity)
),

recent as (
    select
        *,
        -- time score: 1 for the oldest of the recent periods … k for the latest
        {{ k }} + 1 - row_number() over (partition by indicator_id, area_code, area_type, period_type
                                          order by period_start desc) as t,
        count(*) over (partition by indicator_id, area_code, area_type, period_type) as available
    from value
    qualify row_number() over (partition by indicator_id, area_code, area_type, period_type
                               order by period_start desc) <= {{ k }}
),

sums as (
    select
        indicator_id, area_code, area_type, period_type,
        max(period_start)                  as latest_period_start,
        count(*)                           as periods,
        any_value(available)               as available,
        bool_or(is_suppressed)             as any_suppressed,
        sum(numerator)                     as events,
        sum(denominator)                   as total,
        sum(numerator * t)                 as sum_ot,
        sum(denominator * t)               as sum_nt,
        sum(denominator * t * t)           as sum_ntt
    from recent
    group by all
),

tested as (
    select
        *,
        events / total                                                        as p,
        sum_ot - events / total * sum_nt                                      as score,
        events / total * (1 - events / total) * (sum_ntt - sum_nt * sum_nt / total) as variance
    from sums
)

select
    t.indicator_id::varchar                                              as indicator_id,
    t.area_code::varchar                                                 as area_code,
    t.area_type::varchar                                                 as area_type,
    t.period_type::varchar                                               as period_type,
    t.latest_period_start::date                                          as latest_period_start,
    t.periods::integer                                                   as periods,
    (case when t.periods = {{ k }} and not t.any_suppressed and t.events > 0 and t.variance > 0
          then t.score * t.score / t.variance end)::double               as chi_squared,
    (case
        when t.periods < {{ k }} or t.any_suppressed or t.events = 0 or t.variance <= 0 then 'could not be calculated'
        when t.score * t.score / t.variance <= 3.841458820694124 then 'no significant change'
        when t.score > 0 then
            case p.polarity when 'lower_is_better' then 'increasing and getting worse'
                            when 'higher_is_better' then 'increasing and getting better' else 'increasing' end
        else
            case p.polarity when 'lower_is_better' then 'decreasing and getting better'
                            when 'higher_is_better' then 'decreasing and getting worse' else 'decreasing' end
    end)::varchar                                                        as trend
from tested as t
join polarity as p using (indicator_id)
