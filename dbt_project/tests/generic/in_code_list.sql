{#- Values must be in a code list declared in dbt_project.yml (var area_levels, period_types or
    comparisons): the list is written there only. -#}
{% test in_code_list(model, column_name, code_list) %}
{%- set values = [] %}
{%- for v in var(code_list) %}{% do values.append(v.type if v is mapping else v) %}{% endfor %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in ({{ sql_list(values) }})
{% endtest %}
