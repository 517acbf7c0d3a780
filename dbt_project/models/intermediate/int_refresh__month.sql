-- The months an incremental build redoes (macros/refresh_scope.sql): those of police.uk street
-- files added or withdrawn since the last complete build; or every month, with rebuild_all =
-- true, when anything else by-month indicators depend on changed (reference data), when there is
-- no record of a complete build, or on a --full-refresh build. Months are listed explicitly
-- either way, so filters on them reach down into staging.
with changed as (
    select * from {{ ref('int_refresh__changed_load') }}
),

scope as (
    select
        {{ 'true' if flags.FULL_REFRESH else 'false' }}
        or not exists (select 1 from {{ source('raw', 'dbt_built_load') }})
        or exists (select 1 from changed
                   where source not in ('police_street', 'police_outcomes', 'police_stop_search',
                                        'force_recorded_crime')) as rebuild_all
),

street_files as (
    select source_file, true as is_changed from changed where source = 'police_street'
    union all
    select source_file, false from {{ source('raw', 'load_manifest') }}
    where source = 'police_street' and outcome = 'loaded'
)

select distinct
    strptime(regexp_extract(f.source_file, '^(\d{4}-\d{2})', 1), '%Y-%m')::date as month_start,
    scope.rebuild_all
from street_files as f, scope
where f.is_changed or scope.rebuild_all
