-- The cells of every indicator under the NHS small-number rule that this build decides (an
-- indicator × area × period of int_indicator__value), numbered for secondary suppression
-- (int_disclosure__relation, int_disclosure__hidden), with what the published file would say of
-- each count if it were shown: a published 0 is exactly 0, a count r rounded to 5 (8 and more)
-- is r − 2 .. r + 2 and never below 8.
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
        {{ nhs_rounded('v.numerator') }}::bigint as rounded_numerator
    from {{ ref('int_indicator__value') }} as v
    join rules as r using (indicator_id)
    where r.disclosure = 'nhs_small_numbers'
      and {{ refresh_period_filter('v.indicator_id', 'v.period_type', 'v.period_start') }}
)

select
    row_number() over (order by indicator_id, area_type, area_code, period_type, period_start) as cell_id,
    indicator_id, area_type, area_code, period_type, period_start, period_end, numerator,
    numerator between 1 and 7 as is_small_count,
    case when numerator = 0 then 0 else greatest(rounded_numerator - 2, 8) end as shown_low,
    case when numerator = 0 then 0 else rounded_numerator + 2 end as shown_high
from cells
