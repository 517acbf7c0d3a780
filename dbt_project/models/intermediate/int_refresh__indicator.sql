-- For each catalogue indicator, whether this build rebuilds all its values; otherwise only its
-- periods in int_refresh__period are. All of them when everything is rebuilt; indicators not
-- refreshed by month (outcome shares, force extracts) whenever outcomes or force extracts came,
-- since those revise past months. check_marts validates exactly the rows rebuilt.
{%- set by_month = by_month_indicator_ids() %}
with catalogue as (
    select indicator_id
    from (values {% for ind in indicator_catalogue() %}('{{ ind.id }}'){{ ', ' if not loop.last }}{% endfor %}) as c(indicator_id)
)

select
    c.indicator_id,
    s.rebuild_all
    or (s.revisions_came
        and c.indicator_id not in ({% for id in by_month %}'{{ id }}'{{ ', ' if not loop.last }}{% else %}null{% endfor %}))
        as rebuilt_in_full
from catalogue as c, {{ ref('int_refresh__scope') }} as s
