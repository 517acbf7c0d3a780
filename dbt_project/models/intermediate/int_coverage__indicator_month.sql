-- Whether each indicator has its data for each police force area × month: delivered when every
-- source deciding its coverage delivered for every unit reporting for that area (the force; each
-- emergency department or trust)
-- (int_coverage__delivery). Those sources are the indicator's sources that say who reports
-- (reporting_unit), read from dbt's lineage, or the ones its catalogue entry lists in
-- coverage_sources. A row with is_delivered false is an area-month the indicator expected and did
-- not get: it is published as "not delivered", never as a low rate.
-- An indicator none of whose counted models reports by force (macros/coverage.sql) and none of
-- whose sources says who reports (A&E sources do: their sites and trusts) has no delivery record:
-- an area-month counts as delivered there where its numerator holds a record.
{{ config(tags=['delivery_state']) }}
{%- set catalogue = lsoa_month_indicators() %}

with coverage_sources as (
    select s.indicator_id, r.source
    from {{ ref('int_refresh__indicator_source') }} as s
    join {{ source('pipeline', 'source_registry') }} as r on list_contains(s.raw_tables, r.raw_table)
    where r.reporting_unit_kind is not null
      and not (false
        {%- for ind in catalogue if ind.get('coverage_sources') %}
        or (s.indicator_id = '{{ ind.id }}' and r.source not in ({{ sql_list(ind.coverage_sources) }}))
        {%- endfor %})
),

source_count as (
    select indicator_id, count(*) as sources from coverage_sources group by all
),

-- a source has delivered for an area-month when every unit reporting for that area did (one force;
-- all of its emergency departments)
source_months as (
    select
        c.indicator_id,
        c.source,
        d.area_code                                                   as pfa_code,
        d.period_start                                                as month_start,
        bool_and(d.is_delivered)                                      as is_delivered
    from coverage_sources as c
    join {{ ref('int_coverage__delivery') }} as d using (source)
    where d.period_type = 'month' and d.area_type = 'pfa' and d.area_code is not null
    group by all
),

unit_months as (
    select indicator_id, pfa_code, month_start, count(*) filter (where is_delivered) as sources_delivered
    from source_months
    group by all
)

select u.indicator_id, u.pfa_code, u.month_start, u.sources_delivered = n.sources as is_delivered
from unit_months as u
join source_count as n using (indicator_id)
{%- for ind in catalogue if not reports_by_force(ind.numerator.model) %}
union all
select distinct '{{ ind.id }}' as indicator_id, h.pfa_code, s.month_start, true as is_delivered
from {{ ref(ind.numerator.model) }} as s
join {{ ref('int_area_hierarchy') }} as h using (lsoa21_code)
where '{{ ind.id }}' not in (select indicator_id from coverage_sources)
{%- endfor %}
