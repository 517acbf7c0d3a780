-- The months of police.uk street files an incremental build redoes (macros/refresh_scope.sql):
-- those of files added or withdrawn since the last complete build, or every month when
-- int_refresh__scope says rebuild_all. Listed explicitly either way, so filters on them reach
-- down into staging.
with street_files as (
    select source_file, true as is_changed from {{ ref('int_refresh__changed_load') }}
    where source = 'police_street'
    union all
    select source_file, false from {{ source('raw', 'load_manifest') }}
    where source = 'police_street' and outcome = 'loaded'
)

select distinct
    strptime(regexp_extract(f.source_file, '^(\d{4}-\d{2})', 1), '%Y-%m')::date as month_start,
    s.rebuild_all
from street_files as f, {{ ref('int_refresh__scope') }} as s
where f.is_changed or s.rebuild_all
