{#- Each distinct stop-and-search map point in England and Wales, with the LSOA 2021 its street
    crimes give it where they all agree (police.uk anonymises searches and crimes to the same map
    points, and names the LSOA of each crime's point). The points without one are the only ones
    int_police__stop_search_boundary tests against the LSOA polygons. -#}
with located as (
    select distinct latitude, longitude
    from {{ ref('stg_police__stop_search') }}
    where has_location and latitude between 49.8 and 56.0 and longitude between -6.5 and 2.0
),

map_point as (
    select p.latitude, p.longitude, min(s.lsoa21_code) as lsoa21_code
    from located as p
    join {{ ref('int_police__street_lsoa21') }} as s
        on s.latitude = p.latitude and s.longitude = p.longitude
    where s.lsoa21_code is not null and s.record_weight = 1
    group by p.latitude, p.longitude
    having count(distinct s.lsoa21_code) = 1
)

select
    l.latitude,
    l.longitude,
    m.lsoa21_code as map_point_lsoa21_code
from located as l
left join map_point as m using (latitude, longitude)
