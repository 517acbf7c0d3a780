{#- Stop and search records placed in LSOAs 2021 where they have coordinates, in this order:

    1. 'police_map_point': police.uk anonymises searches to the same map points as street
       crimes, and street records name the LSOA of each point (int_police__stop_search_point).
       A search on a map point whose street records all lie in one LSOA 2021 takes that LSOA.
    2. 'lsoa_boundary': any other search whose point lies in a loaded LSOA 2021 polygon takes
       that LSOA (int_police__stop_search_boundary, point in polygon).
    3. 'nearest_centroid': any other search in England and Wales (outside every loaded polygon,
       or everywhere when no boundaries are loaded) goes to the LSOA with the nearest
       population-weighted centroid, if one lies within `stop_search_max_centroid_km`; the rest
       stay unplaced.

    Why the map point comes before the polygon: police.uk assigns each map point its LSOA from
    ONS's full-resolution boundaries, while the boundaries we load are generalised (BGC: 20 m).
    Map points sit on streets, and streets are often LSOA boundaries: on the real Thames Valley
    street files of 2018-10 to 2019-01, 437 of 14,930 map points (3%) fall in a different
    polygon of the real generalised boundaries than police.uk's own LSOA, every one within 20 m of
    that LSOA's polygon (median 3 m). Where street crimes name a point's LSOA, theirs is the exact answer; the
    polygon is exact for every other point (up to the generalisation), and far better than the
    nearest centroid near boundaries.
    A point outside every loaded polygon (a gap in coverage, the coast) still goes to the
    nearest centroid, whichever LSOA it is: the fallback is the method used before boundaries.

    The nearest centroid is found exactly without a spatial extension: points and centroids are
    binned into cells of 0.02° latitude × 0.035° longitude (at least 2 km each way south of 56°N),
    and only the 3 × 3 cells around a point are searched. A best candidate within 2 km there is
    the true nearest, since anything outside those cells is more than a cell away. The rest are
    searched again in cells `wide` times larger, which reaches beyond the distance cap.
    Distances are equirectangular kilometres on a sphere of 6,371 km (111.195 km a degree),
    within 0.5% of great-circle distance at these scales. -#}
{%- set max_km = var('stop_search_max_centroid_km', 15) -%}
{%- set wide = [2, (max_km / 2.0) | round(0, 'ceil') | int] | max -%}

with searches as (
    select * from {{ ref('stg_police__stop_search') }}
),

located as (
    select source_file, source_row_number, latitude, longitude
    from searches
    where has_location and latitude between 49.8 and 56.0 and longitude between -6.5 and 2.0
),

by_map_point as (
    select l.source_file, l.source_row_number, p.map_point_lsoa21_code as lsoa21_code,
           'police_map_point' as lsoa_placement, cast(null as double) as centroid_distance_km
    from located as l
    join {{ ref('int_police__stop_search_point') }} as p using (latitude, longitude)
    where p.map_point_lsoa21_code is not null
),

by_boundary as (
    select l.source_file, l.source_row_number, b.lsoa21_code,
           'lsoa_boundary' as lsoa_placement, cast(null as double) as centroid_distance_km
    from located as l
    join {{ ref('int_police__stop_search_boundary') }} as b using (latitude, longitude)
    anti join by_map_point using (source_file, source_row_number)
),

unplaced_1 as (
    select located.* from located
    anti join by_map_point using (source_file, source_row_number)
    anti join by_boundary using (source_file, source_row_number)
),

{% for level in [1, wide] %}
nearest_{{ level }} as (
    select
        source_file,
        source_row_number,
        arg_min(lsoa21_code, (distance_km, lsoa21_code)) as lsoa21_code,
        min(distance_km)                                  as distance_km
    from (
        select
            u.source_file,
            u.source_row_number,
            c.lsoa21_code,
            sqrt(power((c.latitude - u.latitude) * 111.195, 2)
                 + power((c.longitude - u.longitude) * 111.195 * cos(radians(u.latitude)), 2)) as distance_km
        from unplaced_{{ level }} as u
        cross join (values (-1), (0), (1)) as dy (step)
        cross join (values (-1), (0), (1)) as dx (step)
        join {{ ref('stg_ons__lsoa21_centroid') }} as c
            on floor(c.latitude / {{ 0.02 * level }}) = floor(u.latitude / {{ 0.02 * level }}) + dy.step
           and floor(c.longitude / {{ 0.035 * level }}) = floor(u.longitude / {{ 0.035 * level }}) + dx.step
    )
    group by source_file, source_row_number
    having min(distance_km) <= {{ 2.0 * level if not loop.last else max_km }}
),
{% if not loop.last %}
unplaced_{{ wide }} as (
    select unplaced_{{ level }}.* from unplaced_{{ level }}
    anti join nearest_{{ level }} using (source_file, source_row_number)
),
{% endif %}
{% endfor %}

placed as (
    select * from by_map_point
    union all
    select * from by_boundary
    union all
    select source_file, source_row_number, lsoa21_code, 'nearest_centroid' as lsoa_placement, distance_km from nearest_1
    union all
    select source_file, source_row_number, lsoa21_code, 'nearest_centroid' as lsoa_placement, distance_km from nearest_{{ wide }}
)

select
    s.*,
    p.lsoa21_code,
    p.lsoa_placement,
    round(p.centroid_distance_km, 3) as centroid_distance_km
from searches as s
left join placed as p using (source_file, source_row_number)
