-- Every indicator at every area level, summed up from LSOAs (numerators and denominators are
-- added, never rates averaged), with the rate and its 95% confidence interval, before disclosure
-- control. Methods: macros/indicator_methods.sql.
with lsoa_month as (
    select * from {{ ref('int_indicator__lsoa_month') }}
),

rolled_up as (
    select
        indicator_id,
        case
            when grouping(lsoa21_code) = 0 then 'lsoa'
            when grouping(msoa21_code) = 0 then 'msoa'
            when grouping(lad_code) = 0 then 'lad'
            when grouping(csp_code) = 0 then 'csp'
            else 'pfa'
        end                                              as area_type,
        coalesce(lsoa21_code, msoa21_code, lad_code, csp_code, pfa_code) as area_code,
        month_start                                      as period_start,
        sum(numerator)::bigint                           as numerator,
        sum(denominator)::double                         as denominator
    from lsoa_month
    group by grouping sets (
        (indicator_id, month_start, lsoa21_code),
        (indicator_id, month_start, msoa21_code),
        (indicator_id, month_start, lad_code),
        (indicator_id, month_start, csp_code),
        (indicator_id, month_start, pfa_code)
    )
),

exact as (
    select * from {{ ref('poisson_exact_limits') }} where confidence = 0.95
)

select
    r.indicator_id,
    r.area_code,
    r.area_type,
    'month'                                              as period_type,
    r.period_start,
    (r.period_start + interval 1 month - interval 1 day)::date as period_end,
    r.numerator,
    r.denominator,
    cat.multiplier,
    r.numerator / r.denominator * cat.multiplier         as value,
    {{ count_lower_limit('r.numerator', 'e.lower_events') }} / r.denominator * cat.multiplier as lower_ci_95,
    {{ count_upper_limit('r.numerator', 'e.upper_events') }} / r.denominator * cat.multiplier as upper_ci_95
from rolled_up as r
join {{ ref('indicator_catalogue') }} as cat using (indicator_id)
left join exact as e on e.events = r.numerator
where r.area_code is not null and r.denominator > 0
