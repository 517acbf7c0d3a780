-- Slope and relative index of inequality (SII, RII) of each indicator across England's national
-- IMD 2019 deciles and quintiles inside each area, by PHEindicatormethods phe_sii (value_type
-- rate or proportion, transform = FALSE), from the published quantile rows
-- (fct_indicator_imd_quantile) alone, so it says nothing disclosure control hid:
--   a_i = the quantile's share of the area's denominator, b_i = the midpoint of its cumulative
--   share from the most deprived; OLS through the origin of √a·v on (√a, b√a), i.e. weighted
--   least squares of v on b with weights a, in closed form:
--     β1 = Σ c_i v_i, c_i = a_i (S0 b_i − S1) / det;  β0 = Σ d_i v_i, d_i = a_i (S2 − S1 b_i) / det
--     S_k = Σ a b^k, det = S0 S2 − S1²
--   sii = β1 on the indicator's own scale (the fitted least deprived minus most deprived: negative
--   where the most deprived fare worse on a rate), rii = (β0 + β1) / β0.
-- Confidence intervals, with se_i = (upper95_i − lower95_i) / (2 × 1.96) as phe_sii derives it:
--   SII  PHE draws each v_i ~ N(v_i, se_i) 100,000 times and takes the 2.5th and 97.5th percentiles
--        of β1; β1 is linear in the v_i, so its draws are exactly N(sii, Σ c_i² se_i²), and the
--        interval here is that normal's: the limit PHE's simulation converges to, with no
--        simulation error.
--   RII  a ratio of two correlated normals, N = β0 + β1 and D = β0: Fieller's interval, the ρ with
--        (N − ρD)² ≤ z² Var(N − ρD); unbounded (null limits, said in the note) when D is not
--        distinguishable from zero (D² ≤ z² Var D).
-- A row whose quantile has no published value (a count below 10) has no statistics, and says why.
-- Incremental by indicator × period, like fct_indicator_value (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ refresh_delete_periods() }}") }}
{%- set z = z_value(0.95) %}

with quantile as (
    select
        *,
        (upper_ci_95 - lower_ci_95) / (2 * {{ z }}) as standard_error
    from {{ ref('fct_indicator_imd_quantile') }}
    where {{ refresh_period_filter('indicator_id', 'period_type', 'period_start') }}
),

moments as (
    select
        *,
        sum(denominator_share) over area_period                                                  as s0,
        sum(denominator_share * cumulative_share_midpoint) over area_period                      as s1,
        sum(denominator_share * cumulative_share_midpoint * cumulative_share_midpoint) over area_period as s2
    from quantile
    window area_period as (partition by indicator_id, area_type, area_code, period_type, period_start, quantile_type)
),

weights as (
    -- each quantile's weight in the slope (c) and in the intercept (d)
    select
        *,
        denominator_share * (s0 * cumulative_share_midpoint - s1) / (s0 * s2 - s1 * s1) as c,
        denominator_share * (s2 - s1 * cumulative_share_midpoint) / (s0 * s2 - s1 * s1) as d
    from moments
),

fitted as (
    select
        indicator_id, area_code, area_type, period_type, period_start, quantile_type,
        any_value(period_end)                                              as period_end,
        count(*)                                                           as quantiles,
        bool_or(is_suppressed)                                             as any_suppressed,
        min(suppression_reason)                                            as quantile_reason,
        sum(c * value)                                                     as sii,
        sum(d * value)                                                     as intercept,
        sum(c * c * standard_error ^ 2)                                    as sii_variance,
        sum(d * d * standard_error ^ 2)                                    as intercept_variance,
        sum((c + d) ^ 2 * standard_error ^ 2)                              as top_variance,
        sum((c + d) * d * standard_error ^ 2)                              as top_intercept_covariance
    from weights
    group by all
),

fieller as (
    -- (N − ρD)² − z² (Var N − 2ρ Cov(N, D) + ρ² Var D) ≤ 0, a quadratic in ρ: ρ² A − 2ρ B + C ≤ 0
    select
        *,
        intercept ^ 2 - {{ z }} ^ 2 * intercept_variance                                  as a_term,
        (intercept + sii) * intercept - {{ z }} ^ 2 * top_intercept_covariance              as b_term,
        (intercept + sii) ^ 2 - {{ z }} ^ 2 * top_variance                                  as c_term
    from fitted
    where not any_suppressed
),

statistics as (
    select
        f.*,
        x.a_term > 0 as rii_bounded,
        case when x.a_term > 0
             then (x.b_term - sqrt(greatest(x.b_term ^ 2 - x.a_term * x.c_term, 0))) / x.a_term end as rii_lower,
        case when x.a_term > 0
             then (x.b_term + sqrt(greatest(x.b_term ^ 2 - x.a_term * x.c_term, 0))) / x.a_term end as rii_upper
    from fitted as f
    left join fieller as x using (indicator_id, area_code, area_type, period_type, period_start, quantile_type)
)

select
    indicator_id::varchar                                                          as indicator_id,
    area_code::varchar                                                             as area_code,
    area_type::varchar                                                             as area_type,
    period_type::varchar                                                           as period_type,
    period_start::date                                                             as period_start,
    period_end::date                                                               as period_end,
    quantile_type::varchar                                                         as quantile_type,
    quantiles::integer                                                             as quantiles,
    any_suppressed::boolean                                                        as is_suppressed,
    (case when not any_suppressed then sii end)::double                            as sii,
    (case when not any_suppressed then sii - {{ z }} * sqrt(sii_variance) end)::double as sii_lower_95,
    (case when not any_suppressed then sii + {{ z }} * sqrt(sii_variance) end)::double as sii_upper_95,
    (case when not any_suppressed and intercept <> 0 then (intercept + sii) / intercept end)::double as rii,
    (case when not any_suppressed then rii_lower end)::double                      as rii_lower_95,
    (case when not any_suppressed then rii_upper end)::double                      as rii_upper_95,
    (case when not any_suppressed then intercept end)::double                      as intercept,
    ('SII: normal, exact limit of PHE''s simulation (phe_sii, transform = FALSE: N(sii, Σ c_i² se_i²)); '
     || 'RII: Fieller''s interval for (β0 + β1) / β0')::varchar                    as ci_method,
    (case
        when any_suppressed then 'not calculated: a quantile''s value is withheld (' || quantile_reason || ')'
        when not rii_bounded
            then 'RII interval unbounded: the fitted value at the most deprived end is not distinguishable from zero'
    end)::varchar                                                                  as note
from statistics
