-- Disclosure control, in one place, from each indicator's declared rule:
--   rate_count_below_10  (Fingertips): no value or CI where the numerator is below 10; the count
--                        itself is public (police.uk publishes every record).
--   nhs_small_numbers    (NHS secondary care): counts 1–7 hidden, other counts rounded to the
--                        nearest 5, no value or CI below 10 events, and the value and CIs
--                        computed from the rounded count (a value from the true count times the
--                        published denominator would give the true count back). Secondary
--                        suppression: no relation an attacker can read off the published file
--                        may hold exactly one hidden cell, else that cell is the relation's other
--                        cells added or subtracted. The relations, for each indicator and area
--                        or period:
--                          geography  a parent and its children, for each nesting of
--                                     vars.area_levels (LSOA in MSOA, MSOA in LAD, ...)
--                          time       a period and the shorter periods of one type that tile
--                                     it (months in a quarter, year or rolling 12 months;
--                                     quarters in a calendar or financial year)
--                          overlaps   two overlapping periods neither of which holds the other
--                                     (consecutive rolling 12 months, calendar and financial
--                                     years) and the months only one of them has: the
--                                     difference of the two is those months' difference
--                        Where a relation has exactly one hidden cell, its smallest non-zero
--                        published count is hidden too (a child or month before the parent
--                        periods; never a zero, which a published zero total would give back),
--                        and the passes repeat (a recursive CTE) until no relation has one.
--                        Secondary cells are then counts of 8 and more.
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

-- the DuckDB dialect of sqlfluff 4.4 cannot parse a recursive CTE's USING KEY yet; DuckDB can
with recursive rules as (  -- noqa: PRS
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
        (r.disclosure = 'nhs_small_numbers' and v.numerator between 1 and 7) as count_hidden
    from {{ ref('int_indicator__value') }} as v
    join rules as r using (indicator_id)
    where {{ refresh_period_filter('v.indicator_id', 'v.period_type', 'v.period_start') }}
),

-- secondary suppression concerns only indicators under the NHS rule (a relation is always of
-- one indicator), so it runs over those rows alone, numbered for the passes
nhs as (
    select
        row_number() over (order by indicator_id, area_type, area_code, period_type, period_start) as cell_id,
        indicator_id, area_type, area_code, period_type, period_start, numerator, count_hidden
    from disclosed
    where disclosure = 'nhs_small_numbers'
),

periods as (
    select distinct period_type, period_start, period_end, months_in_period
    from {{ ref('int_period__month_map') }}
),

-- a period and the shorter periods of one type lying inside it, where they tile it
period_tiles as (
    select
        p.period_type as parent_type, p.period_start as parent_start,
        c.period_type as child_type, c.period_start as child_start
    from periods as p
    join periods as c
        on c.months_in_period < p.months_in_period
       and c.period_start >= p.period_start and c.period_end <= p.period_end
    qualify sum(c.months_in_period) over (partition by p.period_type, p.period_start, c.period_type)
        = p.months_in_period
),

-- two overlapping periods, neither inside the other, and the months only one of them has
period_overlaps as (
    select
        a.period_type as a_type, a.period_start as a_start, b.period_type as b_type, b.period_start as b_start,
        m.period_start as month_start
    from periods as a
    join periods as b
        on (a.period_type, a.period_start) < (b.period_type, b.period_start)
       and a.months_in_period > 1 and b.months_in_period > 1
       and a.period_start <= b.period_end and b.period_start <= a.period_end
       and not (a.period_start <= b.period_start and a.period_end >= b.period_end)
       and not (b.period_start <= a.period_start and b.period_end >= a.period_end)
    join periods as m
        on m.months_in_period = 1
       and ((m.period_start between a.period_start and a.period_end)
            <> (m.period_start between b.period_start and b.period_end))
),

-- every relation as its cells: relation_id, cell_id, and whether the cell is one of the
-- relation's parents (the total, or the two overlapping periods)
relation as (
{%- for child, child_col, parent, parent_col in groupings %}
    select
        'geo:{{ child }}:' || p.cell_id as relation_id, c.cell_id, false as is_parent
    from nhs as c
    join (select distinct {{ child_col }} as child_code, {{ parent_col }} as parent_code from hierarchy
          where {{ child_col }} is not null and {{ parent_col }} is not null) as l on l.child_code = c.area_code
    join nhs as p
        on p.area_code = l.parent_code and p.area_type = '{{ parent }}' and p.indicator_id = c.indicator_id
       and p.period_type = c.period_type and p.period_start = c.period_start
    where c.area_type = '{{ child }}'
    union all
    select 'geo:{{ child }}:' || p.cell_id, p.cell_id, true
    from nhs as p
    where p.area_type = '{{ parent }}'
    union all
{%- endfor %}
    select
        'time:' || c.period_type || ':' || p.cell_id as relation_id, c.cell_id, false as is_parent
    from period_tiles as t
    join nhs as p on p.period_type = t.parent_type and p.period_start = t.parent_start
    join nhs as c
        on c.period_type = t.child_type and c.period_start = t.child_start and c.indicator_id = p.indicator_id
       and c.area_type = p.area_type and c.area_code = p.area_code
    union all
    select 'time:' || t.child_type || ':' || p.cell_id, p.cell_id, true
    from (select distinct parent_type, parent_start, child_type from period_tiles) as t
    join nhs as p on p.period_type = t.parent_type and p.period_start = t.parent_start
    union all
    select
        'overlap:' || a.cell_id || ':' || b.cell_id as relation_id, unnest([a.cell_id, b.cell_id]) as cell_id,
        true as is_parent
    from (select distinct a_type, a_start, b_type, b_start from period_overlaps) as o
    join nhs as a on a.period_type = o.a_type and a.period_start = o.a_start
    join nhs as b
        on b.period_type = o.b_type and b.period_start = o.b_start and b.indicator_id = a.indicator_id
       and b.area_type = a.area_type and b.area_code = a.area_code
    union all
    select 'overlap:' || a.cell_id || ':' || b.cell_id, m.cell_id, false
    from period_overlaps as o
    join nhs as a on a.period_type = o.a_type and a.period_start = o.a_start
    join nhs as b
        on b.period_type = o.b_type and b.period_start = o.b_start and b.indicator_id = a.indicator_id
       and b.area_type = a.area_type and b.area_code = a.area_code
    join nhs as m
        on m.period_type = 'month' and m.period_start = o.month_start and m.indicator_id = a.indicator_id
       and m.area_type = a.area_type and m.area_code = a.area_code
),

relation_cell as (
    select r.relation_id, r.cell_id, r.is_parent, n.numerator
    from relation as r
    join nhs as n using (cell_id)
),

-- the passes: each hides, in every relation with exactly one hidden cell, its smallest non-zero
-- published count (a child or month first), until none is left (DuckDB's recursive CTE with
-- USING KEY keeps one row per cell, the latest)
hidden (cell_id, is_hidden, secondary) using key (cell_id) as (
    select cell_id, count_hidden, false from nhs
    union
    select distinct cell_id, true, true
    from (
        select rc.cell_id
        from relation_cell as rc
        join recurring.hidden as h using (cell_id)
        where not h.is_hidden and rc.numerator > 0
          and rc.relation_id in (
              select rc2.relation_id from relation_cell as rc2 join recurring.hidden as h2 using (cell_id)
              where h2.is_hidden group by rc2.relation_id having count(*) = 1)
        qualify row_number() over (partition by rc.relation_id order by rc.is_parent, rc.numerator, rc.cell_id) = 1
    )
),

final as (
    select d.*, coalesce(h.is_hidden, d.count_hidden) as is_hidden, coalesce(h.secondary, false) as secondary,
        case
            when d.disclosure = 'nhs_small_numbers' and not coalesce(h.is_hidden, d.count_hidden)
                then round(d.numerator / 5) * 5
            when d.disclosure = 'nhs_small_numbers' then null
            else d.numerator
        end as published_numerator
    from disclosed as d
    left join nhs as n using (indicator_id, area_type, area_code, period_type, period_start)
    left join hidden as h using (cell_id)
),

exact as (
    select events, confidence, lower_events, upper_events from {{ ref('poisson_exact_limits') }}
)

select
    f.indicator_id, f.area_code, f.area_type, f.period_type, f.period_start, f.period_end, f.method,
    f.published_numerator                              as numerator,
    f.denominator,
    f.numerator                                        as numerator_unrounded,
    -- under the NHS rule the value is withheld below 10 published (rounded) events: judged on the
    -- true count, a published 10 with or without a value would say 8–9 or 10–12
    case when f.disclosure = 'nhs_small_numbers' then f.is_hidden or f.published_numerator < 10
         else f.disclosure <> 'none' and f.numerator < 10 end as is_suppressed,
    -- one published reason for both kinds of hidden cell, so the file does not say which hidden
    -- count is the small one; suppression_cause (not published) keeps the difference
    case
        when f.is_hidden then 'hidden: a count from 1 to 7, or a count hidden so that none can be worked out (NHS small-number rule)'
        when f.disclosure = 'nhs_small_numbers' and f.published_numerator < 10
            then 'published count below 10: rate and CI not published (NHS small-number rule)'
        when f.disclosure <> 'none' and f.numerator < 10 then 'numerator below 10: rate and CI not published (Fingertips rule)'
    end                                                as suppression_reason,
    case when f.secondary then 'secondary' when f.is_hidden then 'small count' end as suppression_cause,
    -- under the NHS rule, crude rates and proportions are those of the published (rounded) count
    case when f.disclosure = 'nhs_small_numbers' and f.method in ('crude_rate', 'proportion')
         then f.published_numerator / f.denominator * f.multiplier else f.value end as value,
    case when f.disclosure = 'nhs_small_numbers' and f.method = 'crude_rate'
         then {{ crude_rate_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e95.lower_events') }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'proportion'
         then {{ wilson_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier') }}
         else f.lower_ci_95 end                        as lower_ci_95,
    case when f.disclosure = 'nhs_small_numbers' and f.method = 'crude_rate'
         then {{ crude_rate_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e95.upper_events') }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'proportion'
         then {{ wilson_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier') }}
         else f.upper_ci_95 end                        as upper_ci_95,
    case when f.disclosure = 'nhs_small_numbers' and f.method = 'crude_rate'
         then {{ crude_rate_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e998.lower_events',
                                  0.998) }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'proportion'
         then {{ wilson_limit('lower', 'f.published_numerator', 'f.denominator', 'f.multiplier', 0.998) }}
         else f.lower_ci_998 end                       as lower_ci_998,
    case when f.disclosure = 'nhs_small_numbers' and f.method = 'crude_rate'
         then {{ crude_rate_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier', 'e998.upper_events',
                                  0.998) }}
         when f.disclosure = 'nhs_small_numbers' and f.method = 'proportion'
         then {{ wilson_limit('upper', 'f.published_numerator', 'f.denominator', 'f.multiplier', 0.998) }}
         else f.upper_ci_998 end                       as upper_ci_998
from final as f
left join exact as e95 on e95.events = f.published_numerator and e95.confidence = 0.95
left join exact as e998 on e998.events = f.published_numerator and e998.confidence = 0.998
