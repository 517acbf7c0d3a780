-- Each catalogue indicator with the raw tables it is counted from, read from its numerator and
-- denominator models' lineage (macros/refresh_scope.sql), so no list names them, and the period
-- type its numerator arrives by.
{{ config(tags=['refresh_scope']) }}
select *
from (values
{%- for ind in indicator_catalogue() %}
    ('{{ ind.id }}', [{{ sql_list(indicator_raw_tables(ind)) }}]::varchar[], '{{ numerator_grain(ind)[1] }}')
    {{- ',' if not loop.last }}
{%- endfor %}
) as c (indicator_id, raw_tables, period_type)
