{#- The loads of a source that count: accepted and not failed by their checks. Written once, as
    the view raw.accepted_load (ingestion/load.py), which Python reads too. -#}
{% macro accepted_load_ids(source_name) -%}
    (select load_id from {{ source('pipeline', 'accepted_load') }} where source = '{{ source_name }}')
{%- endmacro %}
