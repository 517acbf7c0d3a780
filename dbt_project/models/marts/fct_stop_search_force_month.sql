-- Stop and search by force × month × object of search × outcome, with how many searches had
-- coordinates and how many of those were placed in an LSOA (int_police__stop_search_lsoa21).
select
    force_slug::varchar                                             as force_slug,
    month_start::date                                               as month_start,
    coalesce(object_of_search, 'Not recorded')::varchar             as object_of_search,
    coalesce(outcome, 'Not recorded')::varchar                      as outcome,
    count(*)::bigint                                                as searches,
    count(*) filter (where outcome_linked_to_object)::bigint        as searches_outcome_linked_to_object,
    count(*) filter (where has_location)::bigint                    as searches_with_location,
    count(lsoa21_code)::bigint                                      as searches_placed_in_lsoa
from {{ ref('int_police__stop_search_lsoa21') }}
group by all
