-- The months of each indicator an incremental build redoes: months of changed deliveries of the
-- `by_period` sources the indicator is counted from (int_refresh__source_period).
with catalogue as (
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', [{{ sql_list(indicator_raw_tables(ind)) }}]::varchar[]){{ ',' if not loop.last }}
    {%- endfor %}
    ) as c (indicator_id, raw_tables)
)

select distinct c.indicator_id, p.period_start as month_start
from catalogue as c
join {{ ref('int_refresh__source_period') }} as p on list_contains(c.raw_tables, p.raw_table)
where p.period_type = 'month'
