-- One row per indicator, from the catalogue declared in dbt_project.yml (vars.indicators).
select * from (values
{%- for ind in indicator_catalogue() %}
    ({{ "'" ~ ind.id ~ "'" }}, $${{ ind.name }}$$, $${{ ind.definition }}$$, $${{ ind.numerator.description }}$$,
     $${{ ind.denominator.description }}$$, {{ ind.multiplier }}, '{{ ind.method }}', '{{ ind.polarity }}',
     '{{ ind.disclosure }}', $${{ ind.source }}$$, '{{ ind.area_types | join(",") }}', '{{ ind.period_types | join(",") }}')
    {{- ',' if not loop.last }}
{%- endfor %}
) as catalogue (indicator_id, indicator_name, definition, numerator_description, denominator_description,
                multiplier, method, polarity, disclosure_rule, source, area_types, period_types)
