-- How much an incremental build redoes (macros/refresh_scope.sql), one row:
--   rebuild_all      everything: on a --full-refresh build, when no complete build is recorded,
--                    or when any delivery other than police.uk files and force extracts changed
--                    (reference data: lookups, population, IMD)
--   revisions_came   outcomes or force extracts changed, which revise past months of the
--                    indicators counted from them
with changed as (
    select * from {{ ref('int_refresh__changed_load') }}
)

select
    {{ 'true' if flags.FULL_REFRESH else 'false' }}
    or not exists (select 1 from {{ source('raw', 'dbt_built_load') }})
    or exists (select 1 from changed
               where source not in ('police_street', 'police_outcomes', 'police_stop_search',
                                    'force_recorded_crime'))                     as rebuild_all,
    exists (select 1 from changed where source in ('police_outcomes', 'force_recorded_crime')) as revisions_came
