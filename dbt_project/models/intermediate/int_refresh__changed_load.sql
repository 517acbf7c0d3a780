-- Deliveries accepted now but not at the last complete build ('added'), or the other way round
-- ('withdrawn': replaced by a new delivery of the file, or failed its checks), from the pipeline's
-- accepted loads and the baseline the last complete build recorded (macros/refresh_scope.sql),
-- with how the source's deliveries move what is built from them (its declared refresh kind; a
-- source the registry does not know counts as reference data, so it rebuilds everything).
-- A view, so it is always current: ingestion/build_state.py reads it to skip a build with nothing new.
{{ config(materialized='view', tags=['refresh_scope']) }}

with accepted as (
    select load_id, source, source_file from {{ source('pipeline', 'accepted_load') }}
),

built as (
    select load_id, source, source_file from {{ source('pipeline', 'dbt_built_load') }}
),

changed as (
    select *, 'added' as change
    from (
        select * from accepted
        except
        select * from built
    ) as added
    union all
    select *, 'withdrawn' as change
    from (
        select * from built
        except
        select * from accepted
    ) as withdrawn
)

select
    c.load_id,
    c.source,
    c.source_file,
    c.change,
    r.raw_table,
    coalesce(r.refresh, 'reference') as refresh
from changed as c
left join {{ source('pipeline', 'source_registry') }} as r using (source)
