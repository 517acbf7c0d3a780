-- Reporting periods of each indicator that an incremental build redoes. For indicators counted
-- at LSOA × month: the periods containing a month to rebuild (int_refresh__indicator_month), as
-- an added month also moves its quarter, years and the rolling 12-month periods around it. For
-- indicators arriving at another period type: the periods of changed deliveries of their
-- by_period sources, as they are. is_complete: every month of the period has data, so values can
-- exist (the others are only cleared).
{{ config(tags=['refresh_scope']) }}
with periods as (
    select period_type, period_start, count(*) = any_value(months_in_period) as is_complete
    from {{ ref('int_period__month_map') }}
    group by period_type, period_start
),

other_grain as (
    -- indicators arriving by a period other than the month (by month they take the path above)
    select * from {{ ref('int_refresh__indicator_source') }}
    where period_type <> 'month'
)

select distinct r.indicator_id, p.period_type, p.period_start, p.is_complete
from {{ ref('int_refresh__indicator_month') }} as r
join {{ ref('int_period__month_map') }} as m using (month_start)
join periods as p using (period_type, period_start)
union
select o.indicator_id, o.period_type, s.period_start, true as is_complete
from other_grain as o
join {{ ref('int_refresh__source_period') }} as s
    on list_contains(o.raw_tables, s.raw_table) and s.period_type = o.period_type
