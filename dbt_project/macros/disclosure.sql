{#- The NHS small-number rule's rounding: a count shown (8 and more) is rounded to the nearest 5.
    int_indicator__disclosed publishes it; int_disclosure__cell works out what it tells an attacker. -#}
{% macro nhs_rounded(count) -%}
    (round({{ count }} / 5) * 5)
{%- endmacro %}

{#- SQL: each catalogue indicator's disclosure rule (indicator_id, disclosure). -#}
{% macro disclosure_rules() -%}
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', '{{ ind.disclosure }}'){{ ',' if not loop.last }}
    {%- endfor %}
    ) as r (indicator_id, disclosure)
{%- endmacro %}
