{#- The code lists declared in dbt_project.yml (vars area_levels, period_types), as Jinja reads
    them. Python reads the same vars (ingestion/codes.py): neither restates a list. -#}

{#- Area levels by type, each with `ancestors`: every level it nests in, directly or not (the
    closure of `parents`), nearest first. -#}
{% macro area_levels() %}
    {%- set levels = {} -%}
    {%- for level in var('area_levels') | reverse -%}
        {%- set ancestors = [] -%}
        {%- for parent in level.parents -%}
            {%- if parent not in ancestors %}{% do ancestors.append(parent) %}{% endif -%}
            {%- for a in levels[parent].ancestors if a not in ancestors %}{% do ancestors.append(a) %}{% endfor -%}
        {%- endfor -%}
        {%- do levels.update({level.type: {
            'type': level.type, 'name': level.name, 'code_column': level.code_column,
            'name_column': level.name_column, 'parents': level.parents, 'comparator': level.comparator,
            'ancestors': ancestors}}) -%}
    {%- endfor -%}
    {{ return(levels) }}
{% endmacro %}

{#- Area level types, finest first. -#}
{% macro area_level_types() %}
    {{ return(var('area_levels') | map(attribute='type') | list) }}
{% endmacro %}

{% macro period_types() %}
    {%- set types = {} -%}
    {%- for p in var('period_types') -%}{%- do types.update({p.type: p}) -%}{%- endfor -%}
    {{ return(types) }}
{% endmacro %}

{#- The grain a catalogue indicator's numerator arrives at: (area level, period type). -#}
{% macro numerator_grain(ind) %}
    {{ return((ind.numerator.get('area_level', 'lsoa'), ind.numerator.get('period_type', 'month'))) }}
{% endmacro %}

{#- Catalogue indicators whose numerator arrives at LSOA × month (the zero-filled police path),
    and the others (any other area level and period type, e.g. local authority × academic year). -#}
{% macro lsoa_month_indicators() %}
    {{ return(_by_grain(true)) }}
{% endmacro %}

{% macro other_grain_indicators() %}
    {{ return(_by_grain(false)) }}
{% endmacro %}

{% macro _by_grain(lsoa_month) %}
    {%- set found = [] -%}
    {%- for ind in indicator_catalogue() if (numerator_grain(ind) == ('lsoa', 'month')) == lsoa_month -%}
        {%- do found.append(ind) -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}

{#- The area levels values are made for: region and country only with var publish_national_levels
    (they need every force of the region delivered). -#}
{% macro levels_published() %}
    {%- set types = [] -%}
    {%- for type in area_level_types() if var('publish_national_levels') or type not in ['region', 'country'] -%}
        {%- do types.append(type) -%}
    {%- endfor -%}
    {{ return(types) }}
{% endmacro %}
