-- The cells of every indicator under the NHS small-number rule that this build decides (an
-- indicator × area × period of int_indicator__value, its counts by IMD quantile inside each area,
-- and the A&E ISTV profile's counts), numbered for secondary suppression
-- (int_disclosure__relation, int_disclosure__hidden), with what the published file would say of
-- each count if it were shown: a published 0 is exactly 0, a count r rounded to 5 (8 and more)
-- is r − 2 .. r + 2 and never below 8. A force's records no LSOA holds (the force's count less
-- its children's) are bounded by the band of located share published beside a shown force count
-- (fct_indicator_value; macros/disclosure.sql).
-- NHS-rule indicators are rebuilt in full whenever any of their months changes
-- (int_refresh__indicator), so every cell a relation can hold is here together.
-- depends_on: {{ ref('int_refresh__period') }} {{ ref('int_refresh__indicator') }}
with rules as (
    {{ disclosure_rules() }}
),

cells as (
    select
        v.indicator_id, v.area_type, v.area_code, v.period_type, v.period_start, v.period_end,
        v.numerator::bigint as numerator,
        {{ nhs_rounded('v.numerator') }}::bigint as rounded_numerator,
        -- the band of its own records' located share (force level and above), as published beside it
        case when v.located_share_pfa_code is null then {{ nhs_share_band('v.located_share') }} end as located_band,
        null::varchar as quantile_of, null::varchar as quantile_type, null::integer as quantile, null::integer as lsoas
    from {{ ref('int_indicator__value') }} as v
    join rules as r using (indicator_id)
    where r.disclosure = 'nhs_small_numbers'
      and {{ refresh_period_filter('v.indicator_id', 'v.period_type', 'v.period_start') }}
    union all
    -- the counts by IMD decile and quintile inside each area (int_indicator__imd_quantile_count),
    -- '<indicator>|decile:<d>' and '<indicator>|quintile:<q>': sums of their LSOAs' cells
    -- (int_disclosure__relation: deprivation), holding no unplaced records
    select
        {{ quantile_cell_id('q.indicator_id', 'q.quantile_type', 'q.quantile') }} as indicator_id, q.area_type,
        q.area_code, q.period_type, q.period_start, q.period_end,
        q.numerator::bigint as numerator,
        {{ nhs_rounded('q.numerator') }}::bigint as rounded_numerator,
        null as located_band,
        q.indicator_id as quantile_of, q.quantile_type, q.quantile, q.lsoas
    from {{ ref('int_indicator__imd_quantile_count') }} as q
    join rules as r using (indicator_id)
    where r.disclosure = 'nhs_small_numbers'
      and {{ refresh_period_filter('q.indicator_id', 'q.period_type', 'q.period_start') }}
    union all
    -- the ISTV profile's counts (int_ae__istv_profile), rebuilt in full every run: one
    -- pseudo-indicator per dimension and category, '<family>:<dimension>:<category>', whose
    -- categories add up to '<family>:all:all' (int_disclosure__relation: breakdown). Every ISTV
    -- record has its department's area, so a force area holds nothing beyond its districts' (band 100).
    select
        'ae_istv_profile:' || p.dimension || ':' || p.category as indicator_id, p.area_type, p.area_code,
        p.period_type, p.period_start, p.period_end,
        p.attendances as numerator,
        {{ nhs_rounded('p.attendances') }}::bigint as rounded_numerator,
        case when p.area_type = 'pfa' then 100 end as located_band,
        null as quantile_of, null as quantile_type, null as quantile, null as lsoas
    from {{ ref('int_ae__istv_profile') }} as p
)

select
    row_number() over (order by indicator_id, area_type, area_code, period_type, period_start) as cell_id,
    indicator_id, area_type, area_code, period_type, period_start, period_end, numerator,
    quantile_of, quantile_type, quantile, lsoas,
    -- hidden by the rule itself: 1 to 7, and 0 too unless zeros are shown (dbt_project.yml)
    numerator between {{ nhs_hidden_from() }} and 7 as is_small_count,
    -- the least a hidden count can be, as far as the published file says
    {{ nhs_hidden_from() }} as hidden_low,
    case when numerator = 0 then 0 else {{ nhs_shown_low('rounded_numerator') }} end as shown_low,
    case when numerator = 0 then 0 else {{ nhs_shown_high('rounded_numerator') }} end as shown_high,
    case when numerator = 0 then 0
         when located_band is not null and {{ share_band_fits('located_band', 'rounded_numerator') }}
             then {{ band_unplaced_low('located_band', 'rounded_numerator') }}
    end::bigint as unplaced_low,
    case when numerator = 0 then 0
         when located_band is not null and {{ share_band_fits('located_band', 'rounded_numerator') }}
             then {{ band_unplaced_high('located_band', 'rounded_numerator') }}
    end::bigint as unplaced_high
from cells
