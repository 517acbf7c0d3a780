-- Every area at every level, built from the LSOA hierarchy: its name, each parent above it
-- (given only where all of the area's LSOAs share that parent: CSPs and counties need not nest),
-- its latest population and, for LSOAs, the IMD 2019 decile. Population by year is in
-- fct_area_population.
{%- set levels = [
    ('lsoa', 'lsoa21_code', 'lsoa21_name', ['msoa', 'lad', 'utla', 'csp', 'pfa', 'region', 'country']),
    ('msoa', 'msoa21_code', 'msoa21_name', ['lad', 'utla', 'csp', 'pfa', 'region', 'country']),
    ('lad', 'lad_code', 'lad_name', ['utla', 'csp', 'pfa', 'region', 'country']),
    ('utla', 'utla_code', 'utla_name', ['pfa', 'region', 'country']),
    ('csp', 'csp_code', 'csp_name', ['pfa', 'region', 'country']),
    ('pfa', 'pfa_code', 'pfa_name', ['region', 'country']),
    ('region', 'region_code', 'region_name', ['country']),
    ('country', 'country_code', 'country_name', []),
] %}
{%- set parent_column = {'msoa': 'msoa21_code', 'lad': 'lad_code', 'utla': 'utla_code', 'csp': 'csp_code',
                         'pfa': 'pfa_code', 'region': 'region_code', 'country': 'country_code'} %}

with lsoa as (
    select h.*, p.population_year, p.population_all_ages, imd.imd_decile
    from {{ ref('int_area_hierarchy') }} as h
    left join {{ ref('int_population__lsoa_year') }} as p
        on p.lsoa21_code = h.lsoa21_code
       and p.population_year = (select max(population_year) from {{ ref('int_population__lsoa_year') }})
    left join {{ ref('int_imd__lsoa21') }} as imd on imd.lsoa21_code = h.lsoa21_code
),

areas as (
{%- for level, code, name, parents in levels %}
    select
        {{ code }}                                  as area_code,
        any_value({{ name }})                       as area_name,
        '{{ level }}'                               as area_type,
    {%- for parent in ['msoa', 'lad', 'utla', 'csp', 'pfa', 'region', 'country'] %}
        {%- if parent in parents %}
        case when count(distinct {{ parent_column[parent] }}) = 1
             then any_value({{ parent_column[parent] }}) end as parent_{{ parent }}_code,
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
