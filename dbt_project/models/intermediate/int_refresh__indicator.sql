-- For each catalogue indicator, whether this build rebuilds all its values: when everything is
-- rebuilt, or when a delivery of a `revises_history` source it is counted from changed (outcomes,
-- force extracts: they restate past periods). Otherwise only its periods in int_refresh__period
-- are. The sources of an indicator come from its models' lineage (int_refresh__indicator_source).
-- check_marts validates exactly the rows rebuilt.
select
    c.indicator_id,
    (select rebuild_all from {{ ref('int_refresh__scope') }})
    or exists (select 1 from {{ ref('int_refresh__changed_load') }} as l
               where l.refresh = 'revises_history' and list_contains(c.raw_tables, l.raw_table)) as rebuilt_in_full
from {{ ref('int_refresh__indicator_source') }} as c
