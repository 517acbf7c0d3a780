-- Indicator values by England's national IMD 2019 decile and quintile (1 = most deprived) inside
-- each area, for the area-periods whose every quantile has a population: the points of
-- fct_indicator_inequality's regression, with each quantile's share of the area's denominator and
-- the midpoint of its cumulative share (PHEindicatormethods phe_sii's a and b), so a report can
-- draw the bars and the fitted line (intercept + sii × b). PHE drops an area lacking a quantile,
-- and so do we: its other quantiles would be points of no published index.
-- Counts, values and limits after disclosure control (int_indicator__imd_quantile): under the
-- NHS rule rounded to 5, shown from 10, with the rounded count's value and CI.
-- Incremental by indicator × period, like fct_indicator_value (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ refresh_delete_periods() }}") }}
with quantile as (
    select * from {{ ref('int_indicator__imd_quantile') }}
    where {{ refresh_period_filter('indicator_id', 'period_type', 'period_start') }}
),

complete as (
    select
        *,
        sum(denominator) over area_period as area_denominator,
        sum(denominator) over (area_period order by quantile rows between unbounded preceding and current row)
            as cumulative_denominator
    from quantile
    window area_period as (partition by indicator_id, area_type, area_code, period_type, period_start, quantile_type)
    qualify count(*) filter (where denominator > 0) over area_period
        = case quantile_type when 'decile' then 10 else 5 end
)

select
    indicator_id::varchar                                                        as indicator_id,
    area_code::varchar                                                           as area_code,
    area_type::varchar                                                           as area_type,
    period_type::varchar                                                         as period_type,
    period_start::date                                                           as period_start,
    period_end::date                                                             as period_end,
    quantile_type::varchar                                                       as quantile_type,
    quantile::integer                                                            as quantile,
    lsoas::integer                                                               as lsoas,
    numerator::double                                                            as numerator,
    denominator::double                                                          as denominator,
    (denominator / area_denominator)::double                                     as denominator_share,
    ((cumulative_denominator - denominator / 2) / area_denominator)::double      as cumulative_share_midpoint,
    value::double                                                                as value,
    lower_ci_95::double                                                          as lower_ci_95,
    upper_ci_95::double                                                          as upper_ci_95,
    is_suppressed::boolean                                                       as is_suppressed,
    suppression_reason::varchar                                                  as suppression_reason
from complete
