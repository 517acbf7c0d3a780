-- Stop and search by LSOA 2021 × month × object of search × outcome, for searches with
-- coordinates that could be placed in an LSOA (see int_police__stop_search_lsoa21 for how).
-- police.uk publishes each search, so these counts need no small-number suppression.
select
    lsoa21_code::varchar                                            as lsoa21_code,
    month_start::date                                               as month_start,
    coalesce(object_of_search, 'Not recorded')::varchar             as object_of_search,
    coalesce(outcome, 'Not recorded')::varchar                      as outcome,
    count(*)::bigint                                                as searches,
    count(*) filter (where outcome_linked_to_object)::bigint        as searches_outcome_linked_to_object,
    count(*) filter (where lsoa_placement = 'police_map_point')::bigint as searches_placed_by_map_point,
    count(*) filter (where lsoa_placement = 'lsoa_boundary')::bigint    as searches_placed_by_boundary
from {{ ref('int_police__stop_search_lsoa21') }}
where lsoa21_code is not null
group by all
