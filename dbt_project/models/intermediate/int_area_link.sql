-- Each area with every area it lies wholly inside, at every level (macros/code_lists.sql), itself
-- included: the paths along which numerators and denominators arriving at a level above LSOA are
-- summed up. An area is linked to a level only where all its LSOAs share one area of that level
-- (a county need not nest in a CSP). areas_in_parent counts the child level's areas inside the
-- parent, so a parent's value is made only when every one of them reported.
{%- set levels = area_levels() %}
with hierarchy as (
    select * from {{ ref('int_area_hierarchy') }}
),

links as (
{%- for child in area_level_types() %}
    {%- set outer = loop %}
    {%- for parent in [child] + levels[child].ancestors %}
    select '{{ child }}' as child_area_type, {{ levels[child].code_column }} as child_area_code,
           '{{ parent }}' as area_type, any_value({{ levels[parent].code_column }}) as area_code
    from hierarchy
    where {{ levels[child].code_column }} is not null
    group by {{ levels[child].code_column }}
    having count(distinct {{ levels[parent].code_column }}) = 1 and count({{ levels[parent].code_column }}) = count(*)
    {{ 'union all' if not (outer.last and loop.last) }}
    {%- endfor %}
{%- endfor %}
)

select
    child_area_type,
    child_area_code,
    area_type,
    area_code,
    count(*) over (partition by child_area_type, area_type, area_code) as areas_in_parent
from links
