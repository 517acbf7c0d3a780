-- The published indicator table (Fingertips-like, long): value, 95% and 99.8% confidence limits
-- after disclosure control (int_indicator__disclosed), and two comparisons by the 95% CI, read
-- through the indicator's polarity:
--   comparison               with the parent area (sub-force areas → their police force area,
--                            force → region, region → England; or the level the catalogue
--                            entry's `comparator` names: DfE's authorities → their region)
--   comparison_with_england  with England, when an England value exists
-- better / worse when the area's interval lies wholly on one side of the comparator's value,
-- similar when it spans it; higher / lower for indicators with no polarity.
-- located_percent: the share of the value's records that could be placed in an area (below force
-- level, its force's share), in whole percent. Area-periods the indicator expected and did not
-- get whole (int_indicator__not_delivered) are rows with no value and value_note "not delivered".
-- Incremental by indicator × period (comparators are of the same indicator and period), like
-- int_indicator__value (macros/refresh_scope.sql); the not-delivered rows are redone every build
-- (a later delivery can fill or open a gap in any period).
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook=["{{ refresh_delete_periods() }}",
                    "{% if is_incremental() %}delete from {{ this }} where value_note is not null{% endif %}"]) }}
with disclosed as (
    -- both sides scoped before the join: DuckDB filters by the refresh scope only after a join
    select d.*, v.located_share, v.located_share_pfa_code
    from (select * from {{ ref('int_indicator__disclosed') }}
          where {{ refresh_period_filter('indicator_id', 'period_type', 'period_start') }}) as d
    left join (select indicator_id, area_code, area_type, period_type, period_start,
                      located_share, located_share_pfa_code
               from {{ ref('int_indicator__value') }}
               where {{ refresh_period_filter('indicator_id', 'period_type', 'period_start') }}) as v
        using (indicator_id, area_code, area_type, period_type, period_start)
),

rules as (
    {{ disclosure_rules() }}
),

polarity as (
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', '{{ ind.polarity }}', '{{ ind.method }}', {{ ind.multiplier }}){{ ',' if not loop.last }}
    {%- endfor %}
    ) as p (indicator_id, polarity, method, multiplier)
),

parents as (
    select area_code, area_type,
           case area_type
           {%- for level in var('area_levels') if level.comparator %}
               when '{{ level.type }}' then parent_{{ level.comparator }}_code
           {%- endfor %}
           end as comparator_area_code
    from {{ ref('dim_area') }}
),

-- an indicator may name the level its areas are compared with (catalogue `comparator`: DfE's
-- authorities with their region, as DfE compares them) instead of each level's own
indicator_comparators as (
    select null::varchar as indicator_id, null::varchar as area_code, null::varchar as area_type,
           null::varchar as comparator_area_code
    where false
    {%- set level_of = area_levels() %}
    {%- for ind in indicator_catalogue() if ind.get('comparator') %}
    {%- set below = [] %}
    {%- for t in area_level_types() if ind.comparator in level_of[t].ancestors %}{% do below.append(t) %}{% endfor %}
    union all
    select '{{ ind.id }}', area_code, area_type, parent_{{ ind.comparator }}_code
    from {{ ref('dim_area') }}
    where area_type in ({{ sql_list(below) }}) and parent_{{ ind.comparator }}_code is not null
    {%- endfor %}
),

with_comparators as (
    select
        d.*,
        pol.polarity,
        pol.method,
        pol.multiplier,
        coalesce(ic.comparator_area_code, par.comparator_area_code) as comparator_area_code,
        cmp.value  as comparator_value,
        eng.value  as england_value,
        -- below force level the share is the force's: not shown where the force's count is hidden
        (d.located_share_pfa_code is not null and frc.numerator is null) as force_count_hidden,
        -- the shown count the share is of: the area's own, or below force level its force's
        case when d.located_share_pfa_code is null then d.numerator else frc.numerator end as share_count,
        r.disclosure
    from disclosed as d
    join polarity as pol using (indicator_id)
    join rules as r using (indicator_id)
    left join parents as par using (area_code, area_type)
    left join indicator_comparators as ic using (indicator_id, area_code, area_type)
    left join disclosed as cmp
        on cmp.indicator_id = d.indicator_id
       and cmp.area_code = coalesce(ic.comparator_area_code, par.comparator_area_code)
       and cmp.period_type = d.period_type and cmp.period_start = d.period_start and not cmp.is_suppressed
    left join disclosed as eng
        on eng.indicator_id = d.indicator_id and eng.area_code = 'E92000001' and eng.area_type = 'country'
       and eng.period_type = d.period_type and eng.period_start = d.period_start and not eng.is_suppressed
       and d.area_code <> 'E92000001'
    left join disclosed as frc
        on frc.indicator_id = d.indicator_id and frc.area_type = 'pfa' and frc.area_code = d.located_share_pfa_code
       and frc.period_type = d.period_type and frc.period_start = d.period_start
),

{%- set levels = [(0.95, '95'), (0.998, '998')] %}

-- Funnel plot limits around the comparator at each shown value's own precision: its denominator
-- (for a DSR, the one its count and rate imply, multiplier × count / DSR, as PHEindicatormethods
-- derives it), with the expected count there (macros/indicator_methods.sql)
funnel_input as (
    select
        *,
        case when method = 'dsr' and numerator > 0 and value > 0 then multiplier * numerator / value
             when method <> 'dsr' then denominator end                                      as funnel_denominator,
        case when not is_suppressed and value is not null and comparator_value is not null
             then comparator_value / multiplier end                                         as funnel_comparator
    from with_comparators
),

funnel_lines as (
    -- the counts on both exact Poisson lines at each level, where a count's funnel applies
    select
        *,
        {%- for level, suffix in levels %}
        case when method <> 'proportion' and funnel_comparator is not null and funnel_denominator > 0
             then {{ funnel_count_lines('funnel_comparator * funnel_denominator', level) }}
        end                                                                                 as count_lines_{{ suffix }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from funnel_input
),

funnel as (
    select
        w.*,
        {%- for level, suffix in levels %}
        {%- for bound in ['lower', 'upper'] %}
        case when w.method = 'proportion' and w.funnel_comparator is not null
             then {{ funnel_proportion_limit(bound, 'w.denominator', 'w.funnel_comparator', 'w.multiplier', level) }}
             when w.count_lines_{{ suffix }} is not null
             then {{ funnel_count_limit(bound, 'w.count_lines_' ~ suffix, 'w.funnel_denominator', 'w.multiplier') }}
        end                                                                                 as funnel_{{ bound }}_{{ suffix }},
        {%- endfor %}
        -- the area's own limits the significance reads (for a DSR, Byar's on its count, scaled)
        case when w.method = 'dsr' and w.numerator > 0
             then w.value * {{ byar_lower('w.numerator', level) }} / w.numerator else w.lower_ci_{{ suffix }} end
                                                                                            as own_lower_{{ suffix }},
        case when w.method = 'dsr' and w.numerator > 0
             then w.value * {{ byar_upper('w.numerator', level) }} / w.numerator else w.upper_ci_{{ suffix }} end
                                                                                            as own_upper_{{ suffix }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from funnel_lines as w
)

select
    indicator_id::varchar                                            as indicator_id,
    area_code::varchar                                               as area_code,
    area_type::varchar                                               as area_type,
    period_type::varchar                                             as period_type,
    period_start::date                                               as period_start,
    period_end::date                                                 as period_end,
    numerator::double                                                as numerator,
    denominator::double                                              as denominator,
    (case when is_suppressed then null else value end)::double        as value,
    (case when is_suppressed then null else lower_ci_95 end)::double  as lower_ci_95,
    (case when is_suppressed then null else upper_ci_95 end)::double  as upper_ci_95,
    (case when is_suppressed then null else lower_ci_998 end)::double as lower_ci_998,
    (case when is_suppressed then null else upper_ci_998 end)::double as upper_ci_998,
    comparator_area_code::varchar                                    as comparator_area_code,
    {{ compare_by_ci('comparator_value', 'is_suppressed', 'lower_ci_95', 'upper_ci_95', 'polarity') }}::varchar as comparison,
    {{ compare_by_ci('england_value', 'is_suppressed', 'lower_ci_95', 'upper_ci_95',
                     'polarity') }}::varchar                                     as comparison_with_england,
    is_suppressed::boolean                                           as is_suppressed,
    suppression_reason::varchar                                      as suppression_reason,
    -- never of a hidden count: the share would narrow it down; under the NHS rule in bands of 10,
    -- and only a band that fits every count the shown (rounded) one can stand for
    (case when numerator is null or force_count_hidden then null
          when disclosure <> 'nhs_small_numbers' then round(100 * located_share)
          when share_count = 0 or {{ share_band_fits(nhs_share_band('located_share'), 'share_count') }}
              then {{ nhs_share_band('located_share') }}
          end)::double                                               as located_percent,
    null::varchar                                                    as value_note,
    {%- for level, suffix in levels %}
    (case when funnel_comparator is not null then funnel_lower_{{ suffix }} end)::double as funnel_lower_{{ suffix }},
    (case when funnel_comparator is not null then funnel_upper_{{ suffix }} end)::double as funnel_upper_{{ suffix }},
    {%- endfor %}
    {{ funnel_significance('case when funnel_comparator is not null then comparator_value end', 'own_lower_95',
                           'own_upper_95', 'own_lower_998', 'own_upper_998') }}::varchar as funnel_significance
from funnel
union all
select
    n.indicator_id::varchar                 as indicator_id,
    n.area_code::varchar                    as area_code,
    n.area_type::varchar                    as area_type,
    n.period_type::varchar                  as period_type,
    n.period_start::date                    as period_start,
    n.period_end::date                      as period_end,
    null::double                            as numerator,
    null::double                            as denominator,
    null::double                            as value,
    null::double                            as lower_ci_95,
    null::double                            as upper_ci_95,
    null::double                            as lower_ci_998,
    null::double                            as upper_ci_998,
    par.comparator_area_code::varchar       as comparator_area_code,
    'not compared'                          as comparison,
    'not compared'                          as comparison_with_england,
    false                                   as is_suppressed,
    null::varchar                           as suppression_reason,
    null::double                            as located_percent,
    n.value_note::varchar                   as value_note,
    null::double                            as funnel_lower_95,
    null::double                            as funnel_upper_95,
    null::double                            as funnel_lower_998,
    null::double                            as funnel_upper_998,
    null::varchar                           as funnel_significance
from {{ ref('int_indicator__not_delivered') }} as n
left join parents as par using (area_code, area_type)
-- in indicator and period order: the rows a later build replaces (an indicator's periods) then lie
-- in whole row groups, so DuckDB's checkpoint drops them instead of rewriting the groups around them
order by indicator_id, period_type, period_start
