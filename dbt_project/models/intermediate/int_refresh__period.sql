-- Reporting periods that contain a month to rebuild (int_refresh__month): an added month also
-- moves its quarter, years and the rolling 12-month periods around it. is_complete: every month
-- of the period has data, so values can exist (the others are only cleared).
with periods as (
    select period_type, period_start, count(*) = any_value(months_in_period) as is_complete
    from {{ ref('int_period__month_map') }}
    group by period_type, period_start
)

select p.period_type, p.period_start, p.is_complete
from periods as p
where (p.period_type, p.period_start) in (
    select (m.period_type, m.period_start)
    from {{ ref('int_period__month_map') }} as m
    join {{ ref('int_refresh__month') }} as r using (month_start))
