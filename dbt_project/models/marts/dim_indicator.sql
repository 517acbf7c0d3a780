-- One row per indicator, from the declared catalogue (seeds/indicator_catalogue.csv).
select
    indicator_id::varchar            as indicator_id,
    indicator_name::varchar          as indicator_name,
    definition::varchar              as definition,
    numerator_description::varchar   as numerator_description,
    denominator_description::varchar as denominator_description,
    multiplier::integer              as multiplier,
    method::varchar                  as method,
    polarity::varchar                as polarity,
    disclosure_rule::varchar         as disclosure_rule,
    source::varchar                  as source,
    area_types::varchar              as area_types,
    period_types::varchar            as period_types
from {{ ref('indicator_catalogue') }}
