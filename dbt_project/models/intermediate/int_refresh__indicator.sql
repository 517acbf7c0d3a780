-- For each catalogue indicator, whether this build rebuilds all its values: when everything is
-- rebuilt, or when a delivery of a `revises_history` source it is counted from changed (outcomes,
-- force extracts: they restate past periods). Otherwise only its periods in int_refresh__period
-- are. The sources of an indicator are found from its numerator and denominator models' lineage
-- (macros/refresh_scope.sql), so no list names them. check_marts validates exactly the rows rebuilt.
with catalogue as (
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', [{{ sql_list(indicator_raw_tables(ind)) }}]::varchar[]){{ ',' if not loop.last }}
    {%- endfor %}
    ) as c (indicator_id, raw_tables)
)

select
    c.indicator_id,
    (select rebuild_all from {{ ref('int_refresh__scope') }})
    or exists (select 1 from {{ ref('int_refresh__changed_load') }} as l
               where l.refresh = 'revises_history' and list_contains(c.raw_tables, l.raw_table)) as rebuilt_in_full
from catalogue as c
