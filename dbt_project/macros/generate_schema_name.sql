{# Use the folder's schema name as-is (staging, intermediate, marts) rather than dbt's default
   "<target>_<custom>" so analysts see stable schema names. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
