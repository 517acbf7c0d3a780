-- For each catalogue indicator, whether this build rebuilds all its values (everything is being
-- rebuilt, or the indicator is not refreshed by month); otherwise only its periods in
-- int_refresh__period are. check_marts validates exactly these rows.
{%- set by_month = by_month_indicator_ids() %}
select
    indicator_id,
    (coalesce((select bool_or(rebuild_all) from {{ ref('int_refresh__month') }}), false)
     or not indicator_id in ({% for id in by_month %}'{{ id }}'{{ ', ' if not loop.last }}{% else %}null{% endfor %})
    ) as rebuilt_in_full
from (values {% for ind in indicator_catalogue() %}('{{ ind.id }}'){{ ', ' if not loop.last }}{% endfor %}) as c(indicator_id)
