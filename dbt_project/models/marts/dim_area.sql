-- Every area at every level, built from the LSOA hierarchy: its name, each parent above it
-- (given only where all of the area's LSOAs share that parent: CSPs and counties need not nest),
-- its latest population and, for LSOAs, the IMD 2019 decile. Population by year is in
-- fct_area_population.
{#- levels and the levels each lies inside, from var area_levels (macros/code_lists.sql) -#}
{%- set level_of = area_levels() %}
{%- set parent_types = area_level_types()[1:] %}

with lsoa as (
    select h.*, p.population_year, p.population_all_ages, imd.imd_decile
    from {{ ref('int_area_hierarchy') }} as h
    left join {{ ref('int_population__lsoa_year') }} as p
        on p.lsoa21_code = h.lsoa21_code
       and p.population_year = (select max(population_year) from {{ ref('int_population__lsoa_year') }})
    left join {{ ref('int_imd__lsoa21') }} as imd on imd.lsoa21_code = h.lsoa21_code
),

areas as (
{%- for level in area_level_types() %}
    {%- set code, name, parents = level_of[level].code_column, level_of[level].name_column, level_of[level].ancestors %}
    select
        {{ code }}                                  as area_code,
        any_value({{ name }})                       as area_name,
        '{{ level }}'                               as area_type,
    {%- for parent in parent_types %}
        {%- if parent in parents %}
        case when count(distinct {{ level_of[parent].code_column }}) = 1
             then any_value({{ level_of[parent].code_column }}) end as parent_{{ parent }}_code,
        {%- else %}
        null                                        as parent_{{ parent }}_code,
        {%- endif %}
    {%- endfor %}
        max(population_year)                        as population_year,
        sum(population_all_ages)                    as population,
        {{ 'any_value(imd_decile)' if level == 'lsoa' else 'null' }} as imd_decile
    from lsoa
    where {{ code }} is not null
    group by {{ code }}
    {{ 'union all' if not loop.last }}
{%- endfor %}
)

select
    area_code::varchar            as area_code,
    area_name::varchar            as area_name,
    area_type::varchar            as area_type,
    -- a unitary authority is both a district and an upper tier under one code: the other type
    -- it is published under, so a filter on area_code alone is seen to match two rows
    (select string_agg(o.area_type, ',' order by o.area_type) from areas as o
     where o.area_code = areas.area_code and o.area_type <> areas.area_type)::varchar as also_published_as,
    parent_msoa_code::varchar     as parent_msoa_code,
    parent_lad_code::varchar      as parent_lad_code,
    parent_utla_code::varchar     as parent_utla_code,
    parent_csp_code::varchar      as parent_csp_code,
    parent_pfa_code::varchar      as parent_pfa_code,
    parent_region_code::varchar   as parent_region_code,
    parent_country_code::varchar  as parent_country_code,
    population_year::integer      as population_year,
    population::bigint            as population,
    imd_decile::integer           as imd_decile
from areas
