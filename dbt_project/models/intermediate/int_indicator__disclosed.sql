-- Disclosure control, in one place, from each indicator's declared rule:
--   rate_count_below_10  (Fingertips): no value or CI where the numerator is below 10; the count
--                        itself is public (police.uk publishes every record).
--   nhs_small_numbers    (NHS secondary care): counts 1–7 hidden, other counts rounded to the
--                        nearest 5, no value or CI below 10 events; and secondary suppression:
--                        where exactly one area inside a published parent is hidden, the next
--                        smallest sibling is hidden too, so no hidden count can be recovered by
--                        subtracting published cells from the published total.
-- Incremental by indicator × period, like int_indicator__value (macros/refresh_scope.sql).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_periods() }}") }}
{#- every level with each level it nests in directly (var area_levels) -#}
{%- set groupings = [] %}
{%- set level_of = area_levels() %}
{%- for level in var('area_levels') %}
    {%- for parent in level.parents %}
        {%- do groupings.append((level.type, level.code_column, parent, level_of[parent].code_column)) %}
    {%- endfor %}
{%- endfor %}

with rules as (
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', '{{ ind.disclosure }}'){{ ',' if not loop.last }}
    {%- endfor %}
    ) as r (indicator_id, disclosure)
),

hierarchy as (
    select * from {{ ref('int_area_hierarchy') }}
),

disclosed as (
    select
        v.*,
        r.disclosure,
        (r.disclosure = 'nhs_small_numbers' and v.numerator between 1 and 7) as count_hidden,
        false                                                                  as secondary
    from {{ ref('int_indicator__value') }} as v
    join rules as r using (indicator_id)
    where {{ refresh_period_filter('v.indicator_id', 'v.period_type', 'v.period_start') }}
),

-- secondary suppression concerns only indicators under the NHS rule (a parent is always of the
-- same indicator), so its passes run over those rows alone, not the whole mart
state_0 as (
    select * from disclosed where disclosure = 'nhs_small_numbers'
),
{%- set passes = groupings + groupings %}
{%- for child, child_col, parent, parent_col in passes %}

links_{{ loop.index }} as (
    select distinct {{ child_col }} as child_code, {{ parent_col }} as parent_code
    from hierarchy where {{ child_col }} is not null and {{ parent_col }} is not null
),

secondary_{{ loop.index }} as (
    select c.indicator_id, c.period_type, c.period_start, c.area_code, c.area_type
    from state_{{ loop.index0 }} as c
    join links_{{ loop.index }} as l on l.child_code = c.area_code
    join state_{{ loop.index0 }} as p
        on p.area_code = l.parent_code and p.area_type = '{{ parent }}'
       and p.indicator_id = c.indicator_id and p.period_type = c.period_type and p.period_start = c.period_start
    where c.area_type = '{{ child }}' and c.disclosure = 'nhs_small_numbers' and not p.count_hidden
    window siblings as (partition by c.indicator_id, c.period_type, c.period_start, l.parent_code)
    qualify count(*) filter (where c.count_hidden) over siblings = 1
        and not c.count_hidden
        and row_number() over (partition by c.indicator_id, c.period_type, c.period_start, l.parent_code, c.count_hidden
                               order by c.numerator, c.area_code) = 1
),

state_{{ loop.index }} as (
    select
        s.* replace (s.count_hidden or x.area_code is not null as count_hidden,
                     s.secondary or x.area_code is not null as secondary)
    from state_{{ loop.index0 }} as s
    left join secondary_{{ loop.index }} as x using (indicator_id, period_type, period_start, area_code, area_type)
),
{%- endfor %}

final as (
    select * from state_{{ passes | length }}
    union all by name
    select * from disclosed where disclosure <> 'nhs_small_numbers'
)

select
    indicator_id, area_code, area_type, period_type, period_start, period_end, method,
    case
        when count_hidden then null
        when disclosure = 'nhs_small_numbers' then round(numerator / 5) * 5
        else numerator
    end                                              as numerator,
    denominator,
    numerator                                        as numerator_unrounded,
    count_hidden or (disclosure <> 'none' and numerator < 10) as is_suppressed,
    case
        when secondary then 'secondary suppression: protects a small count in a neighbouring area'
        when count_hidden then 'count between 1 and 7 (NHS small-number rule)'
        when disclosure <> 'none' and numerator < 10 then 'numerator below 10: rate and CI not published (Fingertips rule)'
    end                                              as suppression_reason,
    value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998
from final
