-- Every catalogue indicator for every declared period type and area level, summed up from LSOA ×
-- month (numerators added; population denominators averaged over the period's months, count
-- denominators added; both then added over areas: never an average of rates), with its value and
-- 95% and 99.8% confidence limits by the declared method, before disclosure control. Only
-- complete periods (every month delivered) are kept, and an area only when every police force
-- area it touches delivered (int_coverage__indicator_month): int_indicator__not_delivered says
-- which area-periods are missing.
-- Records no LSOA holds count at the reporting force's area and the levels above it (force
-- totals, as forces publish them), never below; numerator_located and located_share say how many
-- of an area's records could be placed (below force level: its force's share).
-- Age-standardised indicators are summed by ESP2013 band first, then standardised per area.
-- Incremental: by-month indicators redo only the periods containing changed months, the rest in
-- full (macros/refresh_scope.sql).
-- Numerators arriving at another grain (a local authority × academic year, say: the catalogue's
-- numerator.area_level and numerator.period_type) are summed up only to the levels that area
-- lies wholly inside (int_area_link), never below it, and a parent gets a value only when every
-- one of its areas at that grain reported for the period; the denominator is the population of
-- the area itself, or a count from a model at the same grain. A source that publishes its own
-- totals above its level (numerator.published_levels: DfE's regional and national rows) has
-- them used as given there, never summed from below; a figure it withheld (null) leaves every
-- sum containing it null.
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ refresh_delete_periods() }}") }}
{%- set levels = [] %}
{%- for type in levels_published() %}{% do levels.append((type, area_levels()[type].code_column)) %}{% endfor %}
{#- the levels a force's unlocated records count at: the force area and every level above it -#}
{%- set force_levels = ['pfa'] + area_levels()['pfa'].ancestors %}

with hierarchy as (
    select * from {{ ref('int_area_hierarchy') }}
),

declared as (
    -- the period types each indicator is published for, and whether its denominator is a
    -- population (a stock: averaged over the period's months) or a count (a flow: summed)
    select * from (values
    {%- for ind in indicator_catalogue() %}
        {%- set outer = loop %}
        {%- for period_type in ind.period_types %}
        ('{{ ind.id }}', '{{ period_type }}', {{ 'true' if ind.denominator.get('model') else 'false' }})
        {{- ',' if not (outer.last and loop.last) }}
        {%- endfor %}
    {%- endfor %}
    ) as d (indicator_id, period_type, denominator_is_count)
),

lsoa_month as (
    -- keyed by LSOA (or, for records no LSOA holds, the reporting force): the area levels above
    -- are joined once per period, after the months are summed
    select indicator_id, lsoa21_code, unlocated_pfa_code, month_start, esp_band, numerator, denominator
    from {{ ref('int_indicator__lsoa_month') }}
),

{%- set rolling = [] %}
{%- for p in var('period_types') if p.get('rolling') %}{% do rolling.append(p) %}{% endfor %}

month_period as (
    -- a month is its own period: no sum needed (one row per indicator, LSOA, month and band)
    select l.indicator_id, 'month' as period_type, l.month_start as period_start,
           (l.month_start + interval 1 month - interval 1 day)::date as period_end,
           l.esp_band, l.lsoa21_code, l.unlocated_pfa_code, l.numerator, l.denominator
    from lsoa_month as l
    join declared as d on d.indicator_id = l.indicator_id and d.period_type = 'month'
    where {{ refresh_period_filter('l.indicator_id', "'month'", 'l.month_start', complete_only=true) }}
),

calendar_period as (
    -- quarters and years: each month in one period of each type
    select
        l.indicator_id, m.period_type, m.period_start, m.period_end, l.esp_band, l.lsoa21_code, l.unlocated_pfa_code,
        sum(l.numerator)    as numerator,
        case when any_value(d.denominator_is_count) then sum(l.denominator) else avg(l.denominator) end as denominator
    from lsoa_month as l
    join {{ ref('int_period__month_map') }} as m using (month_start)
    join declared as d on d.indicator_id = l.indicator_id and d.period_type = m.period_type
    where m.period_type not in ({{ sql_list(['month'] + rolling | map(attribute='type') | list) }})
      and {{ refresh_period_filter('l.indicator_id', 'm.period_type', 'm.period_start', complete_only=true) }}
    group by all
    having count(*) = any_value(m.months_in_period)
),

rolling_period as (
    -- rolling periods as window sums over each LSOA's months (a join would repeat every month in
    -- each of the periods containing it); complete when every month of the window is there. An
    -- incremental build reads only the months of the periods it redoes.
    {%- for p in rolling %}
    select * exclude (months_present) from (
        select
            l.indicator_id, '{{ p.type }}' as period_type,
            (l.month_start - interval {{ p.months - 1 }} month)::date as period_start,
            (l.month_start + interval 1 month - interval 1 day)::date as period_end,
            l.esp_band, l.lsoa21_code, l.unlocated_pfa_code,
            sum(l.numerator) over w as numerator,
            case when d.denominator_is_count then sum(l.denominator) over w else avg(l.denominator) over w end
                as denominator,
            count(*) over w as months_present
        from lsoa_month as l
        join declared as d on d.indicator_id = l.indicator_id and d.period_type = '{{ p.type }}'
        {%- if is_incremental() %}
        where l.indicator_id in (select indicator_id from {{ ref('int_refresh__indicator') }} where rebuilt_in_full)
           or (l.indicator_id, l.month_start) in (
               select (r.indicator_id, m.month_start) from {{ ref('int_refresh__period') }} as r
               join {{ ref('int_period__month_map') }} as m using (period_type, period_start)
               where r.period_type = '{{ p.type }}' and r.is_complete)
        {%- endif %}
        window w as (partition by l.indicator_id, l.esp_band, l.lsoa21_code, l.unlocated_pfa_code
                     order by l.month_start range between interval {{ p.months - 1 }} month preceding and current row)
    ) as windowed
    where months_present = {{ p.months }}
      and {{ refresh_period_filter('indicator_id', 'period_type', 'period_start', complete_only=true) }}
    union all
    {%- endfor %}
    select * from month_period where false
),

periods as (
    select * from month_period
    union all by name
    select * from calendar_period
    union all by name
    select * from rolling_period
),

lsoa_period as (
    select
        p.indicator_id, p.period_type, p.period_start, p.period_end, p.esp_band, true as is_located,
        {%- for level, column in levels %}
        {{ 'p' if column == 'lsoa21_code' else 'h' }}.{{ column }},
        {%- endfor %}
        p.numerator, p.denominator
    from periods as p
    join hierarchy as h using (lsoa21_code)
    union all by name
    select
        p.indicator_id, p.period_type, p.period_start, p.period_end, p.esp_band, false as is_located,
        {%- for level, column in levels if level in force_levels %}
        f.{{ column }},
        {%- endfor %}
        p.numerator, p.denominator
    from periods as p
    join (
        select distinct
            {%- for level in var('area_levels') if level.type in force_levels %}
            {{ level.code_column }}{{ ',' if not loop.last }}
            {%- endfor %}
        from hierarchy
    ) as f on p.unlocated_pfa_code = f.pfa_code
    where p.lsoa21_code is null
),

{% set band_keys = ['indicator_id', 'period_type', 'period_start', 'period_end', 'esp_band'] %}
rolled_up_bands as (
    select
        indicator_id, period_type, period_start, period_end, esp_band,
        {{ area_rollup_columns(levels) | indent(8) }},
        sum(numerator)                                       as numerator,
        sum(numerator) filter (where is_located)             as numerator_located,
        sum(denominator)                                     as denominator
    from lsoa_period
    -- sqlfluff's DuckDB dialect (4.4) cannot parse GROUPING SETS yet; DuckDB itself can
    group by {{ area_grouping_sets(band_keys, levels) }}  -- noqa: PRS
),

{%- set others = other_grain_indicators() %}
{%- set level_of = area_levels() %}
{%- set periods = period_types() %}

other_numerators as (
    -- at the source's own level; and, for a source that publishes its own totals above it
    -- (numerator.published_levels: DfE's regional and national rows), those rows as given. A
    -- figure the source withheld (null) stays null in any sum, never a partial total.
    {%- for ind in others %}
    {%- set level, period_type = numerator_grain(ind) %}
    {%- set given = ind.numerator.get('published_levels', []) %}
    select '{{ ind.id }}' as indicator_id,
           {% if given %}n.area_type{% else %}'{{ level }}'{% endif %} as child_area_type,
           {% if given %}n.area_code{% else %}n.{{ level_of[level].code_column }}{% endif %} as child_area_code,
           {% if given %}n.area_type <> '{{ level }}'{% else %}false{% endif %} as is_given,
           '{{ period_type }}' as period_type, n.period_start::date as period_start,
           (n.period_start::date + interval {{ periods[period_type].months }} month - interval 1 day)::date as period_end,
           case when count(*) = count(n.{{ ind.numerator.measure }}) then sum(n.{{ ind.numerator.measure }}) end
               as numerator
    from {{ ref(ind.numerator.model) }} as n
    where {{ ind.numerator.get('where', 'true') }}
      and {{ refresh_period_filter("'" ~ ind.id ~ "'", "'" ~ period_type ~ "'", 'n.period_start') }}
      {%- if given %}
      and n.area_type in ({{ sql_list([level] + given) }})
      {%- endif %}
    group by all
    union all
    {%- endfor %}
    select null::varchar as indicator_id, null::varchar as child_area_type, null::varchar as child_area_code,
           null::boolean as is_given, null::varchar as period_type, null::date as period_start,
           null::date as period_end, null::double as numerator
    where false
),

other_denominators as (
    {%- for ind in others %}
    {%- set level, period_type = numerator_grain(ind) %}
    {%- set given = ind.numerator.get('published_levels', []) %}
    {%- if ind.denominator.get('model') %}
    select '{{ ind.id }}' as indicator_id,
           {% if given %}d.area_type{% else %}'{{ level }}'{% endif %} as child_area_type,
           {% if given %}d.area_code{% else %}d.{{ level_of[level].code_column }}{% endif %} as child_area_code,
           d.period_start::date as period_start,
           case when count(*) = count(d.{{ ind.denominator.measure }}) then sum(d.{{ ind.denominator.measure }}) end
               as denominator
    from {{ ref(ind.denominator.model) }} as d
    where {{ ind.denominator.get('where', 'true') }}
      {%- if given %}
      and d.area_type in ({{ sql_list([level] + given) }})
      {%- endif %}
    group by all
    {%- else %}
    -- the area's own population: its LSOAs' summed, for the period's year (else the nearest earlier)
    select n.indicator_id, n.child_area_type, n.child_area_code, n.period_start, p.denominator
    from (select distinct indicator_id, child_area_type, child_area_code, period_start from other_numerators
          where indicator_id = '{{ ind.id }}') as n
    join (select l.area_code, p.population_year, sum(p.{{ ind.denominator.population }}) as denominator
          from {{ ref('int_population__lsoa_year') }} as p
          join {{ ref('int_area_link') }} as l
            on l.child_area_type = 'lsoa' and l.child_area_code = p.lsoa21_code and l.area_type = '{{ level }}'
          group by all) as p on p.area_code = n.child_area_code
    qualify row_number() over (partition by n.indicator_id, n.child_area_code, n.period_start
        order by (p.population_year <= year(n.period_start)) desc,
                 case when p.population_year <= year(n.period_start) then -p.population_year
                      else p.population_year end) = 1
    {%- endif %}
    union all
    {%- endfor %}
    select null::varchar as indicator_id, null::varchar as child_area_type, null::varchar as child_area_code,
           null::date as period_start, null::double as denominator
    where false
),

-- the levels an indicator's source publishes itself: never also summed up from below
given_levels as (
    select null::varchar as indicator_id, null::varchar as area_type where false
    {%- for ind in others %}
    {%- for given in ind.numerator.get('published_levels', []) %}
    union all
    select '{{ ind.id }}', '{{ given }}'
    {%- endfor %}
    {%- endfor %}
),

other_rolled_up as (
    select
        n.indicator_id, n.period_type, n.period_start, n.period_end, l.area_type, l.area_code,
        sum(n.numerator)                                                    as numerator,
        sum(d.denominator)                                                  as denominator,
        null::double                                                        as dsr,
        null::double                                                        as dsr_variance
    from other_numerators as n
    join other_denominators as d using (indicator_id, child_area_type, child_area_code, period_start)
    join {{ ref('int_area_link') }} as l using (child_area_type, child_area_code)
    where not n.is_given
      and l.area_type in ({{ sql_list(levels_published()) }})
      and not exists (select 1 from given_levels as g where g.indicator_id = n.indicator_id and g.area_type = l.area_type)
    group by all
    -- every area of the source's level inside the parent reported, and none withheld its figure
    having count(*) = any_value(l.areas_in_parent)
       and count(n.numerator) = count(*) and count(d.denominator) = count(*)
    union all
    -- the source's own totals above its level, as published
    select
        n.indicator_id, n.period_type, n.period_start, n.period_end, n.child_area_type as area_type,
        n.child_area_code as area_code, n.numerator, d.denominator, null::double as dsr, null::double as dsr_variance
    from other_numerators as n
    join other_denominators as d using (indicator_id, child_area_type, child_area_code, period_start)
    where n.is_given and n.numerator is not null and d.denominator is not null
),

{%- set indirect = [] %}
{%- for ind in indicator_catalogue() if ind.method in ['isratio', 'israte'] %}{% do indirect.append(ind) %}{% endfor %}

-- indirectly standardised indicators: each area's reference area (the catalogue's standardised_to
-- level: the area itself there, the one it lies inside below it)
isr_reference_area as (
    {%- for ind in indirect %}
    {%- set ref_level = ind.standardised_to %}
    {%- for level, column in levels if level == ref_level or ref_level in level_of[level].ancestors %}
    select distinct '{{ ind.id }}' as indicator_id, '{{ level }}' as area_type, {{ column }} as area_code,
           '{{ ref_level }}' as reference_area_type, {{ level_of[ref_level].code_column }} as reference_area_code
    from hierarchy
    union all
    {%- endfor %}
    {%- endfor %}
    select null::varchar as indicator_id, null::varchar as area_type, null::varchar as area_code,
           null::varchar as reference_area_type, null::varchar as reference_area_code
    where false
),

-- the expected count (PHEindicatormethods calculate_ISRatio): the reference area's rate in each
-- age band times the area's population there, added over bands; and the reference area's rate
-- over all its bands (calculate_ISRate's ref_rate, per person)
isr_expected as (
    select
        b.indicator_id, b.period_type, b.period_start, b.area_type, b.area_code,
        sum(b.denominator * r.numerator / r.denominator)  as expected,
        sum(r.numerator) / sum(r.denominator)             as reference_rate
    from rolled_up_bands as b
    join isr_reference_area as a using (indicator_id, area_type, area_code)
    join rolled_up_bands as r
        on r.indicator_id = b.indicator_id and r.period_type = b.period_type and r.period_start = b.period_start
       and r.esp_band = b.esp_band and r.area_type = a.reference_area_type and r.area_code = a.reference_area_code
       and r.denominator > 0
    group by all
),

{%- set banded = [] %}
{%- for ind in indicator_catalogue() if ind.method in age_banded_methods() %}{% do banded.append(ind.id) %}{% endfor %}

rolled_up as (
    {%- if banded %}
    -- age-standardised indicators, over their age bands: counts and populations add; the DSR and
    -- its variance are built from the bands with a population
    select
        b.indicator_id, b.period_type, b.period_start, b.period_end, b.area_type, b.area_code,
        sum(b.numerator)                                                                   as numerator,
        sum(b.numerator_located)                                                           as numerator_located,
        sum(b.denominator)                                                                 as denominator,
        true                                                                               as is_from_lsoa_months,
        -- an age band's events need its population (a DSR divides by each band's)
        count(*) filter (where b.numerator > 0 and not coalesce(b.denominator > 0, false)) as bands_without_denominator,
        {{ dsr_value('b.numerator', 'b.denominator', 'esp.standard_population', 1) }}     as dsr,
        -- Dobson's variance: in it each event counts once, or, where one person may have several
        -- (numerator.person), each person's events squared (int_indicator__repeat_events), and any
        -- event no LSOA holds once
        {{ dsr_variance('coalesce(rep.events_squared + b.numerator - b.numerator_located, b.numerator)',
                        'b.denominator', 'esp.standard_population', 1) }}                  as dsr_variance
    from rolled_up_bands as b
    left join {{ ref('esp2013_age_band') }} as esp
        on esp.esp_band = b.esp_band and b.denominator > 0
    left join {{ ref('int_indicator__repeat_events') }} as rep
        on rep.indicator_id = b.indicator_id and rep.area_type = b.area_type and rep.area_code = b.area_code
       and rep.period_type = b.period_type and rep.period_start = b.period_start and rep.esp_band = b.esp_band
    where b.indicator_id in ({{ sql_list(banded) }})
    group by all
    union all by name
    {%- endif %}
    -- the others have the one band 0, each row its own total (grouping them again was the
    -- costliest step of a national build)
    select
        b.indicator_id, b.period_type, b.period_start, b.period_end, b.area_type, b.area_code,
        b.numerator, b.numerator_located, b.denominator,
        true                                                                               as is_from_lsoa_months,
        (b.numerator > 0 and not coalesce(b.denominator > 0, false))::bigint               as bands_without_denominator,
        null::double                                                                       as dsr,
        null::double                                                                       as dsr_variance
    from rolled_up_bands as b
    {%- if banded %}
    where b.indicator_id not in ({{ sql_list(banded) }})
    {%- endif %}
    union all by name
    select * from other_rolled_up
),

-- the force areas each area touches: an area is valued only when all of them delivered. Every
-- LSOA of a force area that delivered has a row for each month delivered (int_indicator__lsoa_month
-- fills in zeros), so an area inside one force area has values exactly when that force delivered;
-- only for an area touching several are the force areas that delivered counted
area_pfa as (
    {%- for level, column in levels %}
    select distinct '{{ level }}' as area_type, {{ column }} as area_code, pfa_code from hierarchy
    where pfa_code is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

area_pfas as (
    select area_type, area_code, count(*) as pfas from area_pfa group by all
),

delivered_pfa as (
    select distinct indicator_id, period_type, period_start, esp_band, pfa_code
    from lsoa_period
    where pfa_code is not null
),

multi_pfa_delivered as (
    -- the fewest delivering over the age bands, as a value needs every band
    select indicator_id, period_type, period_start, area_type, area_code, min(pfas_delivered) as pfas_delivered
    from (
        select d.indicator_id, d.period_type, d.period_start, d.esp_band, a.area_type, a.area_code,
               count(*) as pfas_delivered
        from delivered_pfa as d
        join area_pfa as a using (pfa_code)
        join area_pfas as n using (area_type, area_code)
        where n.pfas > 1
        group by all
    ) as by_band
    group by all
),

complete as (
    select r.*
    from rolled_up as r
    left join area_pfas as a using (area_type, area_code)
    left join multi_pfa_delivered as m using (indicator_id, period_type, period_start, area_type, area_code)
    where r.is_from_lsoa_months is null or coalesce(a.pfas, 0) <= 1 or m.pfas_delivered = a.pfas
),

area_force as (
    {%- for level, column in levels if level not in force_levels %}
    select distinct '{{ level }}' as area_type, {{ column }} as area_code, pfa_code from hierarchy
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

-- the share of records that could be placed: an area's own at force level and above, its
-- force's below (the records no LSOA holds belong to no smaller area)
located as (
    select
        c.* exclude (is_from_lsoa_months, bands_without_denominator),  -- noqa: RF02
        coalesce(f.numerator_located / nullif(f.numerator, 0),
                 c.numerator_located / nullif(c.numerator, 0))  as located_share,
        p.pfa_code                                              as located_share_pfa_code,
        case when c.bands_without_denominator > 0 then 'events in an age band with no population' end
                                                                as band_input_error
    from complete as c
    left join area_force as p using (area_type, area_code)
    left join rolled_up as f
        on f.area_type = 'pfa' and f.area_code = p.pfa_code and f.indicator_id = c.indicator_id
       and f.period_type = c.period_type and f.period_start = c.period_start
),

catalogue as (
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', {{ ind.multiplier }}, '{{ ind.method }}', '{{ ind.area_types | join(",") }}'){{ ',' if not loop.last }}
    {%- endfor %}
    ) as c (indicator_id, multiplier, method, area_types)
),

exact as (
    {{ poisson_exact_limits() }}
),

-- an indirectly standardised ratio is O / E (times the multiplier, 100): a crude rate over the
-- expected count; the rate O / E × reference rate is one over E / reference rate. So from here
-- their denominator is that, and every limit, disclosure rule and funnel is a crude rate's.
-- Counts split between LSOAs by population weight (LSOA 2011 → 2021) add up to whole numbers only
-- to within rounding, in whatever order the threads add them: 9.000000000000002 would miss the
-- exact limits for 9 events, and a 10 that is 9.999999999999998 would take them. So a count is
-- taken to 1e-9 here, the same whichever way it was added.
standardised as (
    select r.* replace (
               round(r.numerator, 9) as numerator,
               case c.method when 'isratio' then x.expected
                             when 'israte' then x.expected / nullif(x.reference_rate, 0)
                             else r.denominator end as denominator),
           c.multiplier, c.method, c.area_types
    from located as r
    join catalogue as c using (indicator_id)
    left join isr_expected as x using (indicator_id, period_type, period_start, area_type, area_code)
),

checked as (
    select *,
           coalesce({{ invalid_indicator_input('numerator', 'denominator', 'method') }}, band_input_error) as input_error
    from standardised
)

select
    r.indicator_id,
    r.area_code,
    r.area_type,
    r.period_type,
    r.period_start,
    r.period_end,
    r.numerator,
    r.numerator_located,
    r.located_share,
    r.located_share_pfa_code,
    r.denominator,
    r.multiplier,
    r.method,
    -- a DSR and its variance before the method's 10-event minimum: disclosure control rescales
    -- them to the published (rounded) count
    r.dsr * r.multiplier                                            as standardised_rate,
    r.dsr_variance * r.multiplier ^ 2                               as standardised_rate_variance,
    case r.method
        when 'dsr' then {{ dsr_rate('r.dsr * r.multiplier', 'r.numerator') }}
        else r.numerator / r.denominator * r.multiplier
    end as value,
    case r.method
        when 'dsr' then {{ dobson_limit('lower', 'r.dsr * r.multiplier', 'r.dsr_variance * r.multiplier ^ 2', 'r.numerator') }}
        when 'proportion' then {{ wilson_limit('lower', 'r.numerator', 'r.denominator', 'r.multiplier') }}
        else {{ crude_rate_limit('lower', 'r.numerator', 'r.denominator', 'r.multiplier', 'e95.lower_events') }}
    end as lower_ci_95,
    case r.method
        when 'dsr' then {{ dobson_limit('upper', 'r.dsr * r.multiplier', 'r.dsr_variance * r.multiplier ^ 2', 'r.numerator') }}
        when 'proportion' then {{ wilson_limit('upper', 'r.numerator', 'r.denominator', 'r.multiplier') }}
        else {{ crude_rate_limit('upper', 'r.numerator', 'r.denominator', 'r.multiplier', 'e95.upper_events') }}
    end as upper_ci_95,
    case r.method
        when 'dsr' then {{ dobson_limit('lower', 'r.dsr * r.multiplier', 'r.dsr_variance * r.multiplier ^ 2', 'r.numerator',
                                        0.998) }}
        when 'proportion' then {{ wilson_limit('lower', 'r.numerator', 'r.denominator', 'r.multiplier', 0.998) }}
        else {{ crude_rate_limit('lower', 'r.numerator', 'r.denominator', 'r.multiplier', 'e998.lower_events', 0.998) }}
    end as lower_ci_998,
    case r.method
        when 'dsr' then {{ dobson_limit('upper', 'r.dsr * r.multiplier', 'r.dsr_variance * r.multiplier ^ 2', 'r.numerator',
                                        0.998) }}
        when 'proportion' then {{ wilson_limit('upper', 'r.numerator', 'r.denominator', 'r.multiplier', 0.998) }}
        else {{ crude_rate_limit('upper', 'r.numerator', 'r.denominator', 'r.multiplier', 'e998.upper_events', 0.998) }}
    end as upper_ci_998
from checked as r
left join exact as e95 on e95.events = r.numerator and e95.confidence = 0.95
left join exact as e998 on e998.events = r.numerator and e998.confidence = 0.998
-- one CASE, so that its branches are taken in this order (DuckDB may reorder ANDed filters): an
-- invalid input stops the build, naming it, in the areas and periods the indicator is published for
where case
    when r.area_code is null or not list_contains(string_split(r.area_types, ','), r.area_type) then false
    when r.input_error is not null then error(format(
        'indicator {}, {} {}, {} from {}: {} (numerator {}, denominator {})', r.indicator_id, r.area_type,
        r.area_code, r.period_type, r.period_start, r.input_error, r.numerator, r.denominator))
    else r.denominator > 0
end
-- in indicator and period order: the rows a later build replaces (an indicator's periods) then lie
-- in whole row groups, so DuckDB's checkpoint drops them instead of rewriting the groups around them
order by r.indicator_id, r.period_type, r.period_start
