-- What each reporting unit (a police force) delivered, source by source and period by period:
-- the coverage behind every indicator value. A unit expected in a period (it delivered that source
-- before or after) that sent nothing is "not delivered"; the indicators it feeds are published
-- there with no value and value_note "not delivered".
select
    source::varchar                                                   as source,  -- noqa: RF04
    reporting_unit_kind::varchar                                      as reporting_unit_kind,
    reporting_unit::varchar                                           as reporting_unit,
    reporting_unit_name::varchar                                      as reporting_unit_name,
    area_type::varchar                                                as area_type,
    area_code::varchar                                                as area_code,
    period_type::varchar                                              as period_type,
    period_start::date                                                as period_start,
    (case when is_delivered then 'delivered' else 'not delivered' end)::varchar as delivery_status,
    records::bigint                                                   as records,
    records_located::bigint                                           as records_located,
    round(100 * records_located / nullif(records, 0))::double         as located_percent
from {{ ref('int_coverage__delivery') }}
