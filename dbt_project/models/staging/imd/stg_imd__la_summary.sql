-- IMD 2019 local authority summaries as published, one row per district of the release (LAD 2019)
-- × index or domain; not mapped to later districts, and no indicator reads it yet.
select
    lad_code,
    lad_name,
    _vintage as lad_vintage,
    index_domain,
    average_rank,
    rank_average_rank as rank_of_average_rank,
    average_score,
    rank_average_score as rank_of_average_score,
    proportion_bottom_decile as proportion_most_deprived_decile,
    rank_proportion_bottom_decile as rank_of_proportion_most_deprived_decile,
    year as iod_year
from {{ source('imd', 'imd2019_la_summary') }}
