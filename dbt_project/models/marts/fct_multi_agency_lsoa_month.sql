-- Police-recorded violence beside A&E assault attendances, per LSOA 2021 × month: where
-- hospital-seen violence goes unreported. Every figure is one fct_indicator_value already
-- publishes (the catalogue's LSOA × month values), so this view discloses nothing new: A&E counts
-- are as the NHS small-number rule publishes them (rounded to 5, or hidden with a note).
-- A row for every LSOA × month either agency has a published value for; a month the other agency
-- has nothing for (its data begins later, as the demo's hospital data does) says "not delivered".
-- Incremental by month: the months in which a month value of one of the three indicators was
-- rebuilt, every month when one of them is rebuilt in full (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{%- set columns = [
    ('police_violence', 'violence_offences_rate'),
    ('ae_assault_residence', 'ae_assault_rate'),
    ('ae_assault_place', 'ae_assault_place_rate'),
] %}
{%- set indicator_ids = columns | map(attribute=1) | list %}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ refresh_delete_indicators_months(" ~ (indicator_ids | tojson) ~ ") }}") }}

with published as (
    select * from {{ ref('fct_indicator_value') }}
    where area_type = 'lsoa' and period_type = 'month'
      and indicator_id in ({{ sql_list(indicator_ids) }})
      and {{ refresh_indicators_month_filter('period_start', indicator_ids) }}
)

select
    area_code::varchar                                                              as lsoa21_code,
    period_start::date                                                              as month_start,
    {%- for name, id in columns %}
    any_value(numerator) filter (where indicator_id = '{{ id }}')::double           as {{ name }}_count,
    any_value(value) filter (where indicator_id = '{{ id }}')::double               as {{ name }}_rate,
    case when count(*) filter (where indicator_id = '{{ id }}') = 0 then 'not delivered'
         else any_value(coalesce(value_note, suppression_reason)) filter (where indicator_id = '{{ id }}')
    end::varchar                                                                    as {{ name }}_note{{ ',' if not loop.last }}
    {%- endfor %}
from published
group by area_code, period_start
