-- What each reporting unit (a police force) delivered, source by source and period by period:
-- the coverage behind every indicator value. A unit expected in a period (it delivered that source
-- before or after) that sent nothing is "not delivered"; the indicators it feeds are published
-- there with no value and value_note "not delivered". Health sources (A&E) publish whether a site
-- or trust delivered, never how many records: those counts reach analysts only through the NHS
-- small-number rule (int_indicator__disclosed).
{{ config(tags=['delivery_state']) }}
select
    d.source::varchar                                                   as source,  -- noqa: RF04
    d.reporting_unit_kind::varchar                                      as reporting_unit_kind,
    d.reporting_unit::varchar                                           as reporting_unit,
    d.reporting_unit_name::varchar                                      as reporting_unit_name,
    d.area_type::varchar                                                as area_type,
    d.area_code::varchar                                                as area_code,
    d.period_type::varchar                                              as period_type,
    d.period_start::date                                                as period_start,
    (case when d.is_delivered then 'delivered' else 'not delivered' end)::varchar as delivery_status,
    (case when not r.health_data then d.records end)::bigint            as records,
    (case when not r.health_data then d.records_located end)::bigint    as records_located,
    (case when not r.health_data then round(100 * d.records_located / nullif(d.records, 0)) end)::double
                                                                      as located_percent
from {{ ref('int_coverage__delivery') }} as d
join (select source, health_data from {{ source('pipeline', 'source_registry') }}) as r using (source)
