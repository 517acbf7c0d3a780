-- The months of each indicator an incremental build redoes: months of changed deliveries of the
-- `by_period` sources the indicator is counted from (int_refresh__source_period).
{{ config(tags=['refresh_scope']) }}
select distinct c.indicator_id, p.period_start as month_start
from {{ ref('int_refresh__indicator_source') }} as c
join {{ ref('int_refresh__source_period') }} as p on list_contains(c.raw_tables, p.raw_table)
where p.period_type = 'month'
