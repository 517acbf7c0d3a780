-- Disclosure control, in one place, from each indicator's declared rule:
--   rate_count_below_10  (Fingertips): no value or CI where the numerator is below 10; the count
--                        itself is public (police.uk publishes every record).
--   nhs_small_numbers    (NHS secondary care): counts 1–7 hidden (and zeros, unless
--                        var nhs_small_numbers_hide_zeros is false), other counts rounded to the
--                        nearest 5, no value or CI below 10 events, and the value and CIs
--                        computed from the rounded count (a value from the true count times the
--                        published denominator would give the true count back). Which counts are
--                        hidden is decided in int_disclosure__hidden: the small counts, then
--                        secondary suppression over geography, time and overlapping periods until
--                        no hidden count can be worked out from everything else published.
-- Incremental by indicator × period, like int_indicator__value (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_periods() }}") }}
with rules as (
    {{ disclosure_rules() }}
),

disclosed as (
    select
        v.*,
        r.disclosure
    from {{ ref('int_indicator__value') }} as v
    join rules as r using (indicator_id)
    where {{ refresh_period_filter('v.indicator_id', 'v.period_type', 'v.period_start') }}
),

final as (
    select d.*, h.suppression_cause is not null as is_hidden, h.suppression_cause,
        case
            when d.disclosure = 'nhs_small_numbers' and h.suppression_cause is null
                then {{ nhs_rounded("d.numerator") }}
            when d.disclosure = 'nhs_small_numbers' then null
            else d.numerator
        end as published_numerator
    from disclosed as d
    left join {{ ref('int_disclosure__hidden') }} as h
        using (indicator_id, area_type, area_code, period_type, period_start)
),

exact as (
    {{ poisson_exact_limits() }}
),

-- a directly standardised rate under the NHS rule is that of the published count: every band's
-- count scaled by published / true (k), so its variance by k too (it is linear in the counts).
-- Dobson's limits on the true count would give it back exactly: (upper − dsr) / (dsr − lower)
-- depends on nothing else.
scaled as (
    select f.*,
        case when f.disclosure = 'nhs_small_numbers' and f.method = 'dsr' and f.published_numerator > 0
                  and f.numerator > 0
             then f.published_numerator / f.numerator end                               as dsr_scale
    from final as f
),

published_dsr as (
    select *, dsr_scale * standardised_rate as dsr, dsr_scale * standardised_rate_variance as dsr_variance
    from scaled
)

select
    f.indicator_id, f.area_code, f.area_type, f.period_type, f.period_start, f.period_end, f.method,
    f.published_numerator                              as numerator,
    f.denominator,
    f.numerator                                        as numerator_unrounded,
    -- under the NHS rule the value is withheld below 10 published (rounded) events: judged on the
    -- true count, a published 10 with or without a value would say 8–9 or 10–12
    -- a DSR below 10 events is not calculated at all (the method's rule): under the NHS rule that
    -- is judged on the published count, like every rule there
    case when f.disclosure = 'nhs_small_numbers' then f.is_hidden or f.published_numerator < 10
         else (f.disclosure <> 'none' or f.method = 'dsr') and f.numerator < 10 end as is_suppressed,
    -- one published reason for both kinds of hidden cell, so the file does not say which hidden
    -- count is the small one; suppression_cause (not published) keeps the difference
    case
        when f.is_hidden then {{ nhs_hidden_reason() }}
        when f.disclosure = 'nhs_small_numbers' and f.published_numerator < 10
            then 'published count below 10: rate and CI not published (NHS small-number rule)'
        -- (never under the NHS rule: a reason beside a shown 10 would say the true count is 8 or 9)
        when f.disclosure = 'rate_count_below_10' and f.numerator < 10
            then 'numerator below 10: rate and CI not published (Fingertips rule)'
        when f.disclosure <> 'nhs_small_numbers' and f.method = 'dsr' and f.numerator < {{ dsr_minimum_events() }}
            then 'fewer than 10 events: a directly standardised rate is not calculated'
    end                                                as suppression_reason,
    f.suppression_cause,
    -- under the NHS rule, crude rates, proportions and indirectly standardised ones are those of the
    -- published (rounded) count
    case when f.disclosure = 'nhs_small_numbers' and f.method in ('crude_rate', 'proportion', 'isratio', 'israte')
         then f.published_numerator / f.denominator * f.multiplier
         when f.disclosure = 'nhs_small_numbers' and f.method = 'dsr'
             then {{ dsr_rate('f.dsr', 'f.published_numerator') }}
         else f.value end                              as value,
    case when f.disclosure = 'nhs_small_numbers' and f.method in ('crude_rate', 'isratio', 'israte')
         then {{ crude_rate_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e95.lower_events') }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'proportion'
         then {{ wilson_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier') }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'dsr'
         then {{ dobson_limit('lower', 'f.dsr', 'f.dsr_variance', 'f.published_numerator') }}
         else f.lower_ci_95 end                        as lower_ci_95,
    case when f.disclosure = 'nhs_small_numbers' and f.method in ('crude_rate', 'isratio', 'israte')
         then {{ crude_rate_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e95.upper_events') }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'proportion'
         then {{ wilson_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier') }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'dsr'
         then {{ dobson_limit('upper', 'f.dsr', 'f.dsr_variance', 'f.published_numerator') }}
         else f.upper_ci_95 end                        as upper_ci_95,
    case when f.disclosure = 'nhs_small_numbers' and f.method in ('crude_rate', 'isratio', 'israte')
         then {{ crude_rate_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e998.lower_events',
                                  0.998) }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'proportion'
         then {{ wilson_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier', 0.998) }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'dsr'
         then {{ dobson_limit('lower', 'f.dsr', 'f.dsr_variance', 'f.published_numerator', 0.998) }}
         else f.lower_ci_998 end                       as lower_ci_998,
    case when f.disclosure = 'nhs_small_numbers' and f.method in ('crude_rate', 'isratio', 'israte')
         then {{ crude_rate_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e998.upper_events',
                                  0.998) }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'proportion'
         then {{ wilson_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier', 0.998) }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'dsr'
         then {{ dobson_limit('upper', 'f.dsr', 'f.dsr_variance', 'f.published_numerator', 0.998) }}
         else f.upper_ci_998 end                       as upper_ci_998
from published_dsr as f
left join exact as e95 on e95.events = f.published_numerator and e95.confidence = 0.95
left join exact as e998 on e998.events = f.published_numerator and e998.confidence = 0.998
-- in indicator and period order: the rows a later build replaces (an indicator's periods) then lie
-- in whole row groups, so DuckDB's checkpoint drops them instead of rewriting the groups around them
order by f.indicator_id, f.period_type, f.period_start
