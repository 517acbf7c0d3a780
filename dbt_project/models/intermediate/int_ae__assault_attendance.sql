{#- One row per A&E attendance for an assault (ECDS injury intent whose seed ae_snomed_code meaning
    is assault), with what the indicators and profiles count it by: the patient's LSOA of
    residence, the LSOA of the place of injury where the extract gives coordinates, age, whether
    a sharp object was the mechanism, the location type, and the hour and day of arrival.

    The place of injury goes to the LSOA 2021 with the nearest population-weighted centroid within
    `ae_place_max_centroid_km` (a bounding box of the same size first, so each point is compared
    with the few centroids around it, not all of England's). Approximate near LSOA edges, as
    coordinates typed in an emergency department are. -#}
{%- set max_km = var('ae_place_max_centroid_km', 3) -%}
{%- set box = max_km / 111.195 -%}

with codes as (
    select snomed_code, field, meaning from {{ ref('ae_snomed_code') }}
),

assault as (
    select a.*
    from {{ ref('stg_ae__ecds_attendance') }} as a
    semi join codes as c on c.field = 'injury_intent' and c.meaning = 'assault' and c.snomed_code = a.injury_intent_snomed
),

centroid as (
    select c.lsoa21_code, c.latitude, c.longitude
    from {{ ref('stg_ons__lsoa21_centroid') }} as c
    semi join {{ ref('int_area_hierarchy') }} as h using (lsoa21_code)
),

placed as (
    select a.provider_code, a.ec_ident, c.lsoa21_code,
           111.195 * sqrt(power(c.latitude - a.place_of_injury_latitude, 2)
                          + power((c.longitude - a.place_of_injury_longitude) * cos(radians(a.place_of_injury_latitude)), 2))
               as distance_km
    from assault as a
    join centroid as c
        on c.latitude between a.place_of_injury_latitude - {{ box }} and a.place_of_injury_latitude + {{ box }}
       and c.longitude between a.place_of_injury_longitude - {{ box }} / cos(radians(a.place_of_injury_latitude))
                           and a.place_of_injury_longitude + {{ box }} / cos(radians(a.place_of_injury_latitude))
    where a.place_of_injury_latitude is not null and a.place_of_injury_longitude is not null
    qualify row_number() over (partition by a.provider_code, a.ec_ident order by distance_km, c.lsoa21_code) = 1
)

select
    a.provider_code,
    a.ec_ident,
    a.patient_key,
    a.month_start,
    a.arrival_date,
    a.age,
    a.sex,
    h.lsoa21_code                                                   as residence_lsoa21_code,
    case when p.distance_km <= {{ max_km }} then p.lsoa21_code end as place_lsoa21_code,
    coalesce(m.meaning = 'sharp_object', false)                     as is_sharp_object,
    coalesce(l.meaning, 'other')                                    as location_type,
    hour(a.arrival_time)                                            as arrival_hour,
    isodow(a.arrival_date)                                          as arrival_iso_day
from assault as a
left join {{ ref('int_area_hierarchy') }} as h on h.lsoa21_code = a.residence_lsoa21_code
left join placed as p using (provider_code, ec_ident)
left join codes as m on m.field = 'injury_mechanism' and m.snomed_code = a.injury_mechanism_snomed
left join codes as l on l.field = 'place_of_injury' and l.snomed_code = a.place_of_injury_snomed
