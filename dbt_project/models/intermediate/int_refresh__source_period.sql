-- The periods an incremental build redoes, by source (macros/refresh_scope.sql): those held by
-- deliveries of `by_period` sources added or withdrawn since the last complete build
-- (raw.load_period, written at load), or every delivered period when int_refresh__scope says
-- rebuild_all. Listed explicitly either way, so filters on them reach down into staging.
{{ config(tags=['refresh_scope']) }}
select distinct c.raw_table, p.period_type, p.period_start
from {{ source('pipeline', 'load_period') }} as p
join (
    select load_id, raw_table from {{ ref('int_refresh__changed_load') }} where refresh = 'by_period'
    union all
    select a.load_id, r.raw_table
    from {{ source('pipeline', 'accepted_load') }} as a
    join {{ source('pipeline', 'source_registry') }} as r using (source)
    where r.refresh = 'by_period' and (select rebuild_all from {{ ref('int_refresh__scope') }})
) as c using (load_id)
