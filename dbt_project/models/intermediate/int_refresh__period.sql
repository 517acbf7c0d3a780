-- Reporting periods of each indicator that contain a month to rebuild (int_refresh__indicator_month):
-- an added month also moves its quarter, years and the rolling 12-month periods around it.
-- is_complete: every month of the period has data, so values can exist (the others are only cleared).
with periods as (
    select period_type, period_start, count(*) = any_value(months_in_period) as is_complete
    from {{ ref('int_period__month_map') }}
    group by period_type, period_start
)

select distinct r.indicator_id, p.period_type, p.period_start, p.is_complete
from {{ ref('int_refresh__indicator_month') }} as r
join {{ ref('int_period__month_map') }} as m using (month_start)
join periods as p using (period_type, period_start)
