-- Each indicator's counts by deprivation inside each area, before any disclosure rule: the LSOAs
-- of an area (district, upper tier, partnership, force area, and region and country where
-- published) grouped by England's national IMD 2019 decile (1 = most deprived) and quintile
-- (q = deciles 2q − 1 and 2q), with numerator, denominator and how many LSOAs each holds.
-- Summed from the LSOA rows of int_indicator__value (crude rates and proportions whose numerator
-- arrives at LSOA × month and that are published by LSOA; age-standardised ones have no LSOA
-- rows), so only records placed in an LSOA count: at force level and above a quantile's sum is
-- less than the area's count by the records with no location. Welsh LSOAs have no English decile
-- and are in no quantile. Populations add over LSOAs (already per period); an area-period gets
-- quantiles only where the area itself has a value (every force it touches delivered).
-- Only vars.inequality_period_types (years: a decile's month is mostly noise, and periods with
-- no sub-periods published give an attacker no time relations between quantile counts).
-- A model of its own, ahead of disclosure control: under the NHS rule its counts are cells of the
-- secondary suppression (int_disclosure__cell), and int_indicator__imd_quantile publishes them.
-- Incremental by indicator × period, like int_indicator__value (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_periods() }}") }}
{%- set levels = [] %}
{%- for type in levels_published() if type not in ['lsoa', 'msoa'] %}
    {%- do levels.append((type, area_levels()[type].code_column)) %}
{%- endfor %}

with lsoa as (
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

-- areas with a value of their own (and the indicator published at their level)
area as (
    select indicator_id, area_type, area_code, period_type, period_start
    from {{ ref('int_indicator__value') }}
    where area_type not in ('lsoa', 'msoa')
      and period_type in ({{ sql_list(var('inequality_period_types')) }})
      and {{ refresh_period_filter('indicator_id', 'period_type', 'period_start') }}
)

select
    q.indicator_id,
    q.area_code,
    q.area_type,
    q.period_type,
    q.period_start,
    q.period_end,
    q.quantile_type,
    q.quantile::integer as quantile,
    q.lsoas::integer as lsoas,
    q.numerator,
    q.denominator
from quantile as q
semi join area as a using (indicator_id, area_type, area_code, period_type, period_start)
