{#- Coverage and records that could not be located, for counts reported by police forces.

    A numerator or denominator model "reports by force" when its YAML documents a
    reporting_force_id column (the police.uk force id that published each count). Its rows with
    no LSOA (records with no map point) are then counted in the reporting force's area and the
    levels above it, never below; and whether British Transport Police's records count in the
    territorial areas where they happened is the catalogue choice
    vars.btp_records_in_territorial_areas. -#}

{% macro reports_by_force(model_name) %}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ model_name) if execute else none -%}
    {{ return(node is not none and 'reporting_force_id' in node.columns) }}
{% endmacro %}

{#- A query over a counted model: lsoa21_code (null for a record no LSOA holds), unlocated_pfa_code
    (for those: the reporting force's area), month_start, the `extra` columns and `measure` as
    `measure`, rows kept by `where`. -#}
{% macro placed_counts(model_name, measure, where='true', extra=[]) %}
    {%- if reports_by_force(model_name) %}
    select s.lsoa21_code,
           case when s.lsoa21_code is null then nullif(f.pfa_code, '') end as unlocated_pfa_code,
           s.month_start,
           {%- for column in extra %} s.{{ column }},{% endfor %}
           s.{{ measure }} as measure
    from {{ ref(model_name) }} as s
    join {{ ref('police_force') }} as f on f.force_id = s.reporting_force_id
    where ({{ where }})
      and (f.is_territorial{{ ' or s.lsoa21_code is not null' if var('btp_records_in_territorial_areas') }})
      and (s.lsoa21_code is not null or nullif(f.pfa_code, '') is not null)
    {%- else %}
    select s.lsoa21_code, null::varchar as unlocated_pfa_code, s.month_start,
           {%- for column in extra %} s.{{ column }},{% endfor %}
           s.{{ measure }} as measure
    from {{ ref(model_name) }} as s
    where ({{ where }}) and s.lsoa21_code is not null
    {%- endif %}
{% endmacro %}
