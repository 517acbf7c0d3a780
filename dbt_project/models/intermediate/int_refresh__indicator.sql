-- For each catalogue indicator, whether this build rebuilds all its values: when everything is
-- rebuilt, or when a delivery of a `revises_history` source it is counted from changed (outcomes,
-- force extracts: they restate past periods). Otherwise only its periods in int_refresh__period
-- are. The sources of an indicator come from its models' lineage (int_refresh__indicator_source).
-- Under the NHS small-number rule secondary suppression links every period of an area (months
-- in quarters and years, overlapping rolling years), so a changed month can change what is
-- hidden in any of them: such an indicator is rebuilt in full whenever any of its months is.
-- check_marts validates exactly the rows rebuilt.
{{ config(tags=['refresh_scope']) }}
{%- set nhs_rule = indicator_catalogue() | selectattr('disclosure', 'equalto', 'nhs_small_numbers')
                                         | map(attribute='id') | list %}
select
    c.indicator_id,
    (select rebuild_all from {{ ref('int_refresh__scope') }})
    or exists (select 1 from {{ ref('int_refresh__changed_load') }} as l
               where l.refresh = 'revises_history' and list_contains(c.raw_tables, l.raw_table))
    or (c.indicator_id in ({{ sql_list(nhs_rule) }})
        and exists (select 1 from {{ ref('int_refresh__indicator_month') }} as m
                    where m.indicator_id = c.indicator_id)) as rebuilt_in_full
from {{ ref('int_refresh__indicator_source') }} as c
