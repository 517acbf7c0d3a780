-- When, where and how the assaults emergency departments treat happen (ISTV, the Cardiff Model),
-- per area × period: attendances by hour of day × day of week, by location type and by assault
-- method, with the total. Counts under the NHS small-number rule: rounded to 5, or hidden with the
-- one published reason, as the disclosure audit decided with every other NHS-rule count
-- (int_disclosure__hidden), so no hidden count can be worked out from this and the rest of the file.
with profile as (
    select
        p.*,
        h.suppression_cause is not null as is_hidden
    from {{ ref('int_ae__istv_profile') }} as p
    left join {{ ref('int_disclosure__hidden') }} as h
        on h.indicator_id = 'ae_istv_profile:' || p.dimension || ':' || p.category
       and h.area_type = p.area_type and h.area_code = p.area_code
       and h.period_type = p.period_type and h.period_start = p.period_start
),

label as (
    select 'location_type' as dimension, location_type as category, label as category_label
    from {{ ref('ae_location_type') }}
    union all
    select 'assault_method' as dimension, assault_method as category, label as category_label
    from {{ ref('ae_assault_method') }}
    union all
    select 'all' as dimension, 'all' as category, 'All assault attendances' as category_label
)

select
    p.area_type::varchar                                                            as area_type,
    p.area_code::varchar                                                            as area_code,
    p.period_type::varchar                                                          as period_type,
    p.period_start::date                                                            as period_start,
    p.period_end::date                                                              as period_end,
    p.dimension::varchar                                                            as dimension,
    p.category::varchar                                                             as category,
    coalesce(
        l.category_label,
        dayname(date '2024-01-07' + split_part(p.category, '-', 1)::integer)
        || ' ' || split_part(p.category, '-', 2) || ':00–' || split_part(p.category, '-', 2) || ':59'
    )::varchar                                                                      as category_label,
    (case when not p.is_hidden then {{ nhs_rounded('p.attendances') }} end)::bigint as attendances,
    (case when p.is_hidden then {{ nhs_hidden_reason() }} end)::varchar            as suppression_reason
from profile as p
left join label as l using (dimension, category)
