-- Coverage as data: for every source that declares who it reports for (ingestion/sources:
-- reporting_unit), each reporting unit × period, delivered or not. A unit that delivered a source
-- once is expected in every period of that source from the first period any unit delivered to the
-- last, so a month a force sent nothing for is a row marked not delivered, never a silent zero.
-- Counts are of accepted deliveries (raw.accepted_load), as written at load (raw.load_period).
-- Reporting units are placed in areas by their kind's lookup: police forces by the seed
-- police_force (British Transport Police reports for no territorial area), emergency departments
-- (ISTV) and their trusts (ECDS) by the seed ae_site. A trust serving two force areas has a row
-- for each.
{{ config(tags=['delivery_state']) }}
{%- set periods = period_types() %}

with delivered as (
    select
        a.source,
        p.reporting_unit,
        p.period_type,
        p.period_start,
        sum(p.records)          as records,
        sum(p.records_located)  as records_located
    from {{ source('pipeline', 'load_period') }} as p
    join {{ source('pipeline', 'accepted_load') }} as a using (load_id)
    where p.reporting_unit is not null
    group by all
),

expected as (
    select distinct
        u.source,
        u.reporting_unit,
        s.period_type,
        unnest(generate_series(s.first_period, s.last_period, to_months(case s.period_type
            {%- for type, p in periods.items() %}
            when '{{ type }}' then {{ p.months }}
            {%- endfor %} end)))::date as period_start
    from (select distinct source, reporting_unit, period_type from delivered) as u
    join (select source, period_type, min(period_start) as first_period, max(period_start) as last_period
          from delivered group by all) as s using (source, period_type)
),

-- each kind of reporting unit with the police force area(s) it reports for
unit_area as (
    select 'police_force' as reporting_unit_kind, force_id as reporting_unit, force_name as reporting_unit_name,
           nullif(pfa_code, '') as pfa_code
    from {{ ref('police_force') }}
    union all
    select 'ae_site' as reporting_unit_kind, site_code as reporting_unit, site_name as reporting_unit_name, pfa_code
    from {{ ref('ae_site') }}
    union all
    select distinct
        'ae_provider' as reporting_unit_kind, provider_code as reporting_unit, provider_name as reporting_unit_name,
        pfa_code
    from {{ ref('ae_site') }}
)

select
    e.source,
    r.reporting_unit_kind,
    e.reporting_unit,
    u.reporting_unit_name,
    'pfa'                                             as area_type,
    u.pfa_code                                        as area_code,
    e.period_type,
    e.period_start,
    d.source is not null                              as is_delivered,
    coalesce(d.records, 0)                            as records,
    coalesce(d.records_located, 0)                    as records_located
from expected as e
join {{ source('pipeline', 'source_registry') }} as r on r.source = e.source
left join delivered as d
    on d.source = e.source and d.reporting_unit = e.reporting_unit
   and d.period_type = e.period_type and d.period_start = e.period_start
left join unit_area as u
    on u.reporting_unit_kind = r.reporting_unit_kind and u.reporting_unit = e.reporting_unit
