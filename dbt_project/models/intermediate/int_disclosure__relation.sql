-- Every linear relation between the NHS-rule cells (int_disclosure__cell) that anyone can read
-- off the published file, as Σ coefficient × count = 0 over its cells:
--   geo      a parent and its children, for each level and every level above it in
--            vars.area_levels (LSOA in MSOA, in LAD, in PFA, ...): parent − Σ children = 0; the
--            indirect ones repeat the direct ones, but an attacker's bounds go further with them.
--            A force's area (or one above it) over areas below force level also holds the
--            records no LSOA holds (remainder_kind below).
--   time     a period and the shorter periods of one type that tile it (months in a quarter, year
--            or rolling 12 months; quarters in a calendar or financial year).
--   overlap  two overlapping periods of more than a month and the months only one of them has
--            (consecutive rolling 12 months, calendar and financial years, a quarter in a year):
--            P1 − P2 − Σ months of P1 only + Σ months of P2 only = 0.
-- is_parent marks a relation's totals (the parent, the tiled period, the two overlapping periods),
-- which secondary suppression hides last.
--   breakdown  a total and its categories along one dimension (the A&E ISTV profile): total − Σ
--            categories = 0. A nested pair (a quarter in a year) repeats what the
-- tiles say, but bounds worked out relation by relation go further with it, as an attacker's do.
--   deprivation  an indicator's count in an IMD decile or quintile of an area ('<indicator>|decile:3'
--            cells) against what it is made of, as dim_area and IMD 2019 let anyone work out:
--            imd          the quantile − Σ its LSOAs' counts = 0
--            imd_area     the area − Σ its deciles (or quintiles) = its records in no quantile
--                         (none below force level; at force level and above, the unplaced ones)
--            imd_quintile a quintile − its two deciles = 0
--            imd_geo      a quantile of a parent area − Σ the same quantile of its children = 0
--            Quantile cells are in no geo relation of their own: a child area with no LSOA in a
--            quantile has no cell, and counts 0, not "missing".
{%- set groupings = [] %}
{%- set level_of = area_levels() %}
{%- for level in var('area_levels') %}
    {%- for parent in level_of[level.type].ancestors %}
        {%- do groupings.append((level.type, level.code_column, parent, level_of[parent].code_column)) %}
    {%- endfor %}
{%- endfor %}
{#- the levels a force's records with no LSOA count at: the force area and every level above it -#}
{%- set force_levels = ['pfa'] + level_of['pfa'].ancestors %}
{#- the levels counts by deprivation are summed at (int_indicator__imd_quantile_count) -#}
{%- set quantile_levels = [] %}
{%- for type in levels_published() if type not in ['lsoa', 'msoa'] %}{% do quantile_levels.append(type) %}{% endfor %}

with cell as (
    select * from {{ ref('int_disclosure__cell') }}
),

hierarchy as (
    select * from {{ ref('int_area_hierarchy') }}
),

periods as (
    select distinct period_type, period_start, period_end, months_in_period
    from {{ ref('int_period__month_map') }}
),

-- a period and the shorter periods of one type lying inside it, where they tile it
period_tiles as (
    select
        p.period_type as parent_type, p.period_start as parent_start,
        c.period_type as child_type, c.period_start as child_start,
        count(*) over (partition by p.period_type, p.period_start, c.period_type) as children
    from periods as p
    join periods as c
        on c.months_in_period < p.months_in_period
       and c.period_start >= p.period_start and c.period_end <= p.period_end
    qualify sum(c.months_in_period) over (partition by p.period_type, p.period_start, c.period_type)
        = p.months_in_period
),

-- two overlapping periods of more than a month, and the months only one of them has
period_pairs as (
    select
        a.period_type as a_type, a.period_start as a_start, b.period_type as b_type, b.period_start as b_start,
        a.period_end as a_end, b.period_end as b_end
    from periods as a
    join periods as b
        on (a.period_type, a.period_start) < (b.period_type, b.period_start)
       and a.months_in_period > 1 and b.months_in_period > 1
       and a.period_start <= b.period_end and b.period_start <= a.period_end
),

period_pair_months as (
    select p.a_type, p.a_start, p.b_type, p.b_start, m.period_start as month_start,
        case when m.period_start between p.a_start and p.a_end then -1 else 1 end as coefficient,
        count(*) over (partition by p.a_type, p.a_start, p.b_type, p.b_start) as months
    from period_pairs as p
    join periods as m
        on m.months_in_period = 1
       and ((m.period_start between p.a_start and p.a_end) <> (m.period_start between p.b_start and p.b_end))
),

overlap as (
    select
        a.cell_id as a_id, b.cell_id as b_id, a.indicator_id, a.area_type, a.area_code,
        p.a_type, p.a_start, p.b_type, p.b_start
    from period_pairs as p
    join cell as a on a.period_type = p.a_type and a.period_start = p.a_start
    join cell as b
        on b.period_type = p.b_type and b.period_start = p.b_start and b.indicator_id = a.indicator_id
       and b.area_type = a.area_type and b.area_code = a.area_code
),

geo as (
{%- for child, child_col, parent, parent_col in groupings %}
    select
        'geo:{{ child }}:' || p.cell_id as relation_id, c.cell_id, -1 as coefficient, false as is_parent,
        {{ parent in force_levels and child not in force_levels }} as has_unplaced, l.children
    from cell as c
    join (select child_code, parent_code, count(*) over (partition by parent_code) as children
          from (select distinct {{ child_col }} as child_code, {{ parent_col }} as parent_code from hierarchy
                where {{ child_col }} is not null and {{ parent_col }} is not null)) as l
        on l.child_code = c.area_code
    join cell as p
        on p.area_code = l.parent_code and p.area_type = '{{ parent }}' and p.indicator_id = c.indicator_id
       and p.period_type = c.period_type and p.period_start = c.period_start
    where c.area_type = '{{ child }}' and c.quantile_type is null
    union all
    select
        'geo:{{ child }}:' || p.cell_id as relation_id, p.cell_id, 1 as coefficient, true as is_parent,
        {{ parent in force_levels and child not in force_levels }} as has_unplaced, null as children
    from cell as p
    where p.area_type = '{{ parent }}' and p.quantile_type is null
    {{- '\n    union all' if not loop.last }}
{%- endfor %}
),

time as (
    select
        'time:' || c.period_type || ':' || p.cell_id as relation_id, c.cell_id, -1 as coefficient,
        false as is_parent, t.children
    from period_tiles as t
    join cell as p on p.period_type = t.parent_type and p.period_start = t.parent_start
    join cell as c
        on c.period_type = t.child_type and c.period_start = t.child_start and c.indicator_id = p.indicator_id
       and c.area_type = p.area_type and c.area_code = p.area_code
    union all
    select
        'time:' || t.child_type || ':' || p.cell_id as relation_id, p.cell_id, 1 as coefficient, true as is_parent,
        null as children
    from (select distinct parent_type, parent_start, child_type from period_tiles) as t
    join cell as p on p.period_type = t.parent_type and p.period_start = t.parent_start
),

-- a total and its categories, for counts broken down by a dimension ('<family>:<dimension>:<category>'
-- cells, whose total is '<family>:all:all'): total − Σ categories of each dimension = 0
breakdown as (
    select
        'breakdown:' || split_part(c.indicator_id, ':', 2) || ':' || t.cell_id as relation_id, c.cell_id,
        -1 as coefficient, false as is_parent
    from cell as c
    join cell as t
        on t.indicator_id = split_part(c.indicator_id, ':', 1) || ':all:all'
       and t.area_type = c.area_type and t.area_code = c.area_code
       and t.period_type = c.period_type and t.period_start = c.period_start
    where c.indicator_id like '%:%:%' and split_part(c.indicator_id, ':', 2) <> 'all'
),

-- each LSOA in each area holding it that counts by deprivation, with its IMD 2019 decile (null for
-- a Welsh LSOA)
lsoa_area as (
{%- for type in quantile_levels %}
    select h.lsoa21_code, '{{ type }}' as area_type, h.{{ level_of[type].code_column }} as area_code, i.imd_decile
    from hierarchy as h
    left join {{ ref('int_imd__lsoa21') }} as i using (lsoa21_code)
    where h.{{ level_of[type].code_column }} is not null
    {{- '\n    union all' if not loop.last }}
{%- endfor %}
),

quantile_cell as (
    select * from cell where quantile_type is not null
),

-- a quantile and the cells of its LSOAs (where an LSOA summed has no cell, what the quantile holds
-- beyond its cells is unknown: "missing")
imd as (
    select
        'imd:' || q.cell_id as relation_id, l.cell_id, -1 as coefficient, false as is_parent,
        q.cell_id as parent_id, q.lsoas
    from quantile_cell as q
    join lsoa_area as m
        on m.area_type = q.area_type and m.area_code = q.area_code
       and case q.quantile_type when 'decile' then m.imd_decile else (m.imd_decile + 1) // 2 end = q.quantile
    join cell as l
        on l.area_type = 'lsoa' and l.area_code = m.lsoa21_code and l.indicator_id = q.quantile_of
       and l.period_type = q.period_type and l.period_start = q.period_start
),

-- an area and its deciles (or quintiles): what the area holds beyond them is 0 below force level
-- where every LSOA of the area with a cell is in a quantile; else its unplaced records (force
-- level and above) or unknown ("missing": LSOAs of no English decile)
imd_area_parts as (
    select
        a.cell_id as area_id, a.area_type, q.quantile_type, q.cell_id, sum(q.lsoas) over w as quantile_lsoas
    from quantile_cell as q
    join cell as a
        on a.indicator_id = q.quantile_of and a.area_type = q.area_type and a.area_code = q.area_code
       and a.period_type = q.period_type and a.period_start = q.period_start
    window w as (partition by a.cell_id, q.quantile_type)
),

area_lsoa_cells as (
    select a.cell_id as area_id, count(*) as lsoa_cells
    from (select distinct area_id from imd_area_parts) as p
    join cell as a on a.cell_id = p.area_id
    join lsoa_area as m on m.area_type = a.area_type and m.area_code = a.area_code
    join cell as l
        on l.area_type = 'lsoa' and l.area_code = m.lsoa21_code and l.indicator_id = a.indicator_id
       and l.period_type = a.period_type and l.period_start = a.period_start
    group by a.cell_id
),

imd_area as (
    select
        'imd_area:' || p.quantile_type || ':' || p.area_id as relation_id, p.cell_id, -1 as coefficient,
        false as is_parent, p.area_id, p.area_type, p.quantile_lsoas
    from imd_area_parts as p
    union all
    select distinct
        'imd_area:' || p.quantile_type || ':' || p.area_id as relation_id, p.area_id as cell_id, 1 as coefficient,
        true as is_parent, p.area_id, p.area_type, p.quantile_lsoas
    from imd_area_parts as p
),

-- a quintile and its deciles (a decile with no cell has no LSOA in the area: 0)
imd_quintile as (
    select 'imd_quintile:' || q.cell_id as relation_id, d.cell_id, -1 as coefficient, false as is_parent
    from quantile_cell as q
    join quantile_cell as d
        on d.quantile_of = q.quantile_of and d.area_type = q.area_type and d.area_code = q.area_code
       and d.period_type = q.period_type and d.period_start = q.period_start
       and d.quantile_type = 'decile' and (d.quantile + 1) // 2 = q.quantile
    where q.quantile_type = 'quintile'
    union all
    select 'imd_quintile:' || cell_id as relation_id, cell_id, 1 as coefficient, true as is_parent
    from quantile_cell
    where quantile_type = 'quintile'
),

-- a quantile of a parent area and the same quantile of its children: exact where the children's
-- LSOAs are all the parent's (a child with no LSOA in the quantile has no cell and counts 0)
imd_geo as (
{%- set quantile_groupings = [] %}
{%- for child, child_col, parent, parent_col in groupings if child in quantile_levels and parent in quantile_levels %}
    {%- do quantile_groupings.append((child, child_col, parent, parent_col)) %}
{%- endfor %}
    select null::varchar as relation_id, null::bigint as cell_id, null::integer as coefficient,
        null::boolean as is_parent, null::bigint as lsoas
    where false
{%- for child, child_col, parent, parent_col in quantile_groupings %}
    union all
    select
        'imd_geo:{{ child }}:' || p.cell_id as relation_id, c.cell_id, -1 as coefficient, false as is_parent, c.lsoas
    from quantile_cell as c
    join (select distinct {{ child_col }} as child_code, {{ parent_col }} as parent_code from hierarchy
          where {{ child_col }} is not null and {{ parent_col }} is not null) as l
        on l.child_code = c.area_code
    join quantile_cell as p
        on p.area_code = l.parent_code and p.area_type = '{{ parent }}' and p.indicator_id = c.indicator_id
       and p.period_type = c.period_type and p.period_start = c.period_start
    where c.area_type = '{{ child }}'
    union all
    select 'imd_geo:{{ child }}:' || cell_id as relation_id, cell_id, 1 as coefficient, true as is_parent, lsoas
    from quantile_cell
    where area_type = '{{ parent }}'
{%- endfor %}
),

overlap_cells as (
    select 'overlap:' || a_id || ':' || b_id as relation_id, a_id as cell_id, 1 as coefficient, true as is_parent,
        null::bigint as months
    from overlap
    union all
    select
        'overlap:' || a_id || ':' || b_id as relation_id, b_id as cell_id, -1 as coefficient, true as is_parent,
        null as months
    from overlap
    union all
    select
        'overlap:' || o.a_id || ':' || o.b_id as relation_id, m.cell_id, pm.coefficient, false as is_parent,
        pm.months
    from overlap as o
    join period_pair_months as pm using (a_type, a_start, b_type, b_start)
    join cell as m
        on m.period_type = 'month' and m.period_start = pm.month_start and m.indicator_id = o.indicator_id
       and m.area_type = o.area_type and m.area_code = o.area_code
)

-- remainder_kind: what a parent may hold beyond its cells (parent − Σ children ≥ 0): "unplaced", a
-- force's records no LSOA holds (one unknown per force cell, whichever level its children are
-- at); "missing", children with no cell (not valued). A pair of overlapping periods needs every
-- month it names. A relation needs at least one child: an indicator published at district level
-- and above (an age-standardised rate) has no LSOA children, and a parent alone would read as 0.
select relation_id, cell_id, coefficient, is_parent,
    case when count(*) filter (where not is_parent) over r < max(children) over r then 'missing'
         when bool_or(has_unplaced) over r then 'unplaced' end as remainder_kind
from geo
window r as (partition by relation_id)
-- a parent with no child cell at all (an indicator not published at that level) relates nothing
qualify count(*) filter (where not is_parent) over r > 0
union all
select relation_id, cell_id, coefficient, is_parent,
    case when count(*) filter (where not is_parent) over r < max(children) over r then 'missing' end as remainder_kind
from time
window r as (partition by relation_id)
qualify count(*) filter (where not is_parent) over r > 0
union all
select relation_id, cell_id, coefficient, is_parent, null as remainder_kind
from breakdown
union all
select distinct
    b.relation_id, t.cell_id, 1 as coefficient, true as is_parent, null as remainder_kind
from breakdown as b
join cell as t on t.cell_id = try_cast(split_part(b.relation_id, ':', 3) as bigint)
union all
select relation_id, cell_id, coefficient, is_parent,
    case when count(*) over r < max(lsoas) over r then 'missing' end as remainder_kind
from imd
window r as (partition by relation_id)
union all
select distinct relation_id, parent_id as cell_id, 1 as coefficient, true as is_parent,
    case when count(*) over r < max(lsoas) over r then 'missing' end as remainder_kind
from imd
window r as (partition by relation_id)
union all
select i.relation_id, i.cell_id, i.coefficient, i.is_parent,
    case when i.quantile_lsoas < c.lsoa_cells then 'missing'
         when i.area_type in ({{ sql_list(force_levels) }}) then 'unplaced' end as remainder_kind
from imd_area as i
join area_lsoa_cells as c using (area_id)
union all
select relation_id, cell_id, coefficient, is_parent, null as remainder_kind
from imd_quintile
union all
select relation_id, cell_id, coefficient, is_parent,
    case when sum(lsoas) filter (where not is_parent) over r < max(lsoas) filter (where is_parent) over r
        then 'missing' end as remainder_kind
from imd_geo
window r as (partition by relation_id)
qualify count(*) filter (where not is_parent) over r > 0
union all
select relation_id, cell_id, coefficient, is_parent, null as remainder_kind
from overlap_cells
qualify count(*) filter (where not is_parent) over (partition by relation_id)
    = max(months) over (partition by relation_id)
