{#- Every published area level at once, in one GROUPING SETS pass over rows that carry each level's
    code column: `levels` is a list of (area type, code column). area_rollup_columns() gives the
    area_type and area_code of each output row; area_grouping_sets(keys) groups by `keys` plus one
    level's column at a time (rates are summed up, never averaged). -#}
{% macro area_rollup_columns(levels) -%}
    case
        {%- for level, column in levels %}
        when grouping({{ column }}) = 0 then '{{ level }}'
        {%- endfor %}
    end                                                    as area_type,
    coalesce({{ levels | map(attribute=1) | join(', ') }}) as area_code
{%- endmacro %}

{% macro area_grouping_sets(keys, levels) -%}
    grouping sets (
        {%- for level, column in levels %}
        ({{ keys | join(', ') }}, {{ column }}){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
