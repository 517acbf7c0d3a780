-- Deliveries accepted now but not at the last complete build ('added'), or the other way round
-- ('withdrawn': replaced by a new delivery of the file, or failed its checks), from the load
-- manifest and the baseline the last complete build recorded (macros/refresh_scope.sql).
with accepted as (
    select load_id, source, source_file from {{ source('raw', 'load_manifest') }}
    where outcome = 'loaded' and check_status <> 'failed'
),

built as (
    select load_id, source, source_file from {{ source('raw', 'dbt_built_load') }}
)

select *, 'added' as change from (select * from accepted except select * from built)
union all
select *, 'withdrawn' from (select * from built except select * from accepted)
