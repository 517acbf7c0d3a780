-- Each indicator by deprivation inside each area (int_indicator__imd_quantile_count: the counts
-- by England's IMD 2019 decile and quintile) with value and 95% limits by the indicator's own
-- method after its disclosure rule, for the inequality indices (fct_indicator_imd_quantile,
-- fct_indicator_inequality; PHEindicatormethods phe_sii).
-- Disclosure, from each indicator's rule:
--   nhs_small_numbers    the quantile's count is a cell of the secondary suppression
--                        (int_disclosure__cell: '<indicator>|<decile or quintile>:<q>', related to
--                        its LSOAs, its area, its other quantiles and the same quantile of the
--                        areas around it), so it is hidden where it is 1 to 7 (0 too unless zeros
--                        are shown) or where it would give a hidden count away; else rounded to 5
--                        (nhs_rounded), its value and CI those of the rounded count. A hidden
--                        quantile has the one published reason of every hidden count.
--   rate_count_below_10  the count is public; no value or CI below 10 events.
-- Incremental by indicator × period, like int_indicator__value (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_periods() }}") }}

with rules as (
    {{ disclosure_rules() }}
),

quantile as (
    select * from {{ ref('int_indicator__imd_quantile_count') }}
    where {{ refresh_period_filter('indicator_id', 'period_type', 'period_start') }}
),

-- the area's own row: it has a value (and the indicator is published at its level)
area as (
    select
        v.indicator_id, v.area_type, v.area_code, v.period_type, v.period_start, v.method, v.multiplier,
        r.disclosure
    from {{ ref('int_indicator__value') }} as v
    join rules as r using (indicator_id)
    where v.area_type not in ('lsoa', 'msoa')
      and v.period_type in ({{ sql_list(var('inequality_period_types')) }})
      and {{ refresh_period_filter('v.indicator_id', 'v.period_type', 'v.period_start') }}
),

published as (
    select
        q.*, a.method, a.multiplier, a.disclosure,
        case
            when a.disclosure <> 'nhs_small_numbers' then q.numerator
            when h.suppression_cause is not null then null
            else {{ nhs_rounded('q.numerator') }}
        end as published_numerator
    from quantile as q
    join area as a using (indicator_id, area_type, area_code, period_type, period_start)
    left join {{ ref('int_disclosure__hidden') }} as h
        on h.indicator_id = {{ quantile_cell_id('q.indicator_id', 'q.quantile_type', 'q.quantile') }}
       and h.area_type = q.area_type and h.area_code = q.area_code
       and h.period_type = q.period_type and h.period_start = q.period_start
),

flagged as (
    select
        *,
        case disclosure
            when 'nhs_small_numbers' then coalesce(published_numerator < 10, true)
            when 'rate_count_below_10' then numerator < 10
            else false
        end as is_suppressed
    from published
),

exact as (
    {{ poisson_exact_limits([0.95]) }}
)

select
    f.indicator_id,
    f.area_code,
    f.area_type,
    f.period_type,
    f.period_start,
    f.period_end,
    f.quantile_type,
    f.quantile::integer                                       as quantile,
    f.method,
    f.multiplier,
    f.disclosure,
    f.lsoas::integer                                          as lsoas,
    f.numerator                                               as numerator_unrounded,
    f.published_numerator                                     as numerator,
    f.denominator,
    f.is_suppressed,
    case
        -- the reason every hidden count has, so the file does not say which kind this is
        when f.disclosure = 'nhs_small_numbers' and f.published_numerator is null then {{ nhs_hidden_reason() }}
        when f.disclosure = 'nhs_small_numbers' and f.is_suppressed
            then 'published count below 10: rate and CI not published (NHS small-number rule)'
        when f.disclosure = 'rate_count_below_10' and f.is_suppressed
            then 'numerator below 10: rate and CI not published (Fingertips rule)'
    end                                                       as suppression_reason,
    -- under the NHS rule the published (rounded) count's, which is the count otherwise
    case when not f.is_suppressed and f.denominator > 0
         then f.published_numerator / f.denominator * f.multiplier end as value,
    case when f.is_suppressed or not f.denominator > 0 then null
         when f.method = 'proportion' then {{ wilson_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier') }}
         else {{ crude_rate_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e.lower_events') }}
    end                                                       as lower_ci_95,
    case when f.is_suppressed or not f.denominator > 0 then null
         when f.method = 'proportion' then {{ wilson_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier') }}
         else {{ crude_rate_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e.upper_events') }}
    end                                                       as upper_ci_95
from flagged as f
left join exact as e on e.events = f.published_numerator
