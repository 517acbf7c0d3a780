-- Each indicator by deprivation inside each area: the LSOAs of an area (district, upper tier,
-- partnership, force area, and region and country where published) grouped by England's national
-- IMD 2019 decile (1 = most deprived) and quintile (q = deciles 2q − 1 and 2q), with numerator,
-- denominator, value and 95% limits by the indicator's own method, for the inequality indices
-- (fct_indicator_imd_quantile, fct_indicator_inequality; PHEindicatormethods phe_sii).
-- Summed from the LSOA rows of int_indicator__value (crude rates and proportions whose numerator
-- arrives at LSOA × month and that are published by LSOA; age-standardised ones have no LSOA
-- rows), so only records placed in an LSOA count: at force level and above a quantile's sum is
-- less than the area's count by the records with no location. Welsh LSOAs have no English decile
-- and are in no quantile. Populations add over LSOAs (already per period); an area-period gets
-- quantiles only where the area itself has a value (every force it touches delivered).
-- Only vars.inequality_period_types (years: a decile's month is mostly noise, and periods with
-- no sub-periods published give an attacker no time relations between quantile counts).
-- Disclosure, from each indicator's rule:
--   nhs_small_numbers    the quantile's count rounded to 5 (nhs_rounded) and published only from
--                        10 (a true count of 8 or more; a 0 where the rule shows zeros), its value
--                        and CI those of the rounded count; nothing where the area's own count is
--                        hidden (its quantiles add up to it, and would undo the secondary
--                        suppression that hid it). A hidden quantile has the one published reason
--                        of every hidden count.
--   rate_count_below_10  the count is public; no value or CI below 10 events.
-- Incremental by indicator × period, like int_indicator__value (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_periods() }}") }}
{%- set levels = [] %}
{%- for type in levels_published() if type not in ['lsoa', 'msoa'] %}
    {%- do levels.append((type, area_levels()[type].code_column)) %}
{%- endfor %}

with rules as (
    {{ disclosure_rules() }}
),

lsoa as (
    select
        v.indicator_id, v.period_type, v.period_start, v.period_end, i.imd_decile,
        {%- for level, column in levels %}
        h.{{ column }},
        {%- endfor %}
        v.numerator, v.denominator
    from {{ ref('int_indicator__value') }} as v
    join {{ ref('int_imd__lsoa21') }} as i on i.lsoa21_code = v.area_code
    join {{ ref('int_area_hierarchy') }} as h on h.lsoa21_code = v.area_code
    where v.area_type = 'lsoa'
      and v.method in ('crude_rate', 'proportion')
      and v.indicator_id in ({{ sql_list(lsoa_month_indicators() | map(attribute='id') | list) }})
      and v.period_type in ({{ sql_list(var('inequality_period_types')) }})
      and {{ refresh_period_filter('v.indicator_id', 'v.period_type', 'v.period_start') }}
),

{% set decile_keys = ['indicator_id', 'period_type', 'period_start', 'period_end', 'imd_decile'] %}
decile as (
    -- one pass over the LSOA rows, every area level at once
    select
        indicator_id, period_type, period_start, period_end, imd_decile,
        {{ area_rollup_columns(levels) | indent(8) }},
        count(*)                                              as lsoas,
        sum(numerator)                                        as numerator,
        sum(denominator)                                      as denominator
    from lsoa
    -- sqlfluff's DuckDB dialect (4.4) cannot parse GROUPING SETS yet; DuckDB itself can
    group by {{ area_grouping_sets(decile_keys, levels) }}  -- noqa: PRS
),

quantile as (
    select
        indicator_id, area_type, area_code, period_type, period_start, period_end,
        'decile' as quantile_type, imd_decile as quantile, lsoas, numerator, denominator
    from decile
    where area_code is not null
    union all
    select
        indicator_id, area_type, area_code, period_type, period_start, period_end,
        'quintile' as quantile_type, (imd_decile + 1) // 2 as quantile,
        sum(lsoas) as lsoas, sum(numerator) as numerator, sum(denominator) as denominator
    from decile
    where area_code is not null
    group by all
),

-- the area's own row: it has a value (and the indicator is published at its level), and whether
-- its count is hidden under the NHS rule
area as (
    select
        v.indicator_id, v.area_type, v.area_code, v.period_type, v.period_start, v.method, v.multiplier,
        r.disclosure, d.numerator is null as is_area_count_hidden
    from {{ ref('int_indicator__value') }} as v
    join {{ ref('int_indicator__disclosed') }} as d
        using (indicator_id, area_type, area_code, period_type, period_start)
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
            when a.is_area_count_hidden then null
            when {{ nhs_rounded('q.numerator') }} >= 10 then {{ nhs_rounded('q.numerator') }}
            -- a zero is shown only where the rule shows zeros (vars.nhs_small_numbers_hide_zeros)
            when q.numerator < {{ nhs_hidden_from() }} then 0
        end as published_numerator
    from quantile as q
    join area as a using (indicator_id, area_type, area_code, period_type, period_start)
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
