-- Stop and search by force × month × object of search × outcome. Searches are published by
-- force (police.uk gives no LSOA; coordinates, where present, await boundary data to be placed).
select
    force_slug::varchar                                             as force_slug,
    month_start::date                                               as month_start,
    coalesce(object_of_search, 'Not recorded')::varchar             as object_of_search,
    coalesce(outcome, 'Not recorded')::varchar                      as outcome,
    count(*)::bigint                                                as searches,
    count(*) filter (where outcome_linked_to_object)::bigint        as searches_outcome_linked_to_object,
    count(*) filter (where has_location)::bigint                    as searches_with_location
from {{ ref('stg_police__stop_search') }}
group by all
