-- The published indicator table (Fingertips-like, long). Disclosure control is applied here,
-- in one place, from each indicator's declared rule:
--   rate_count_below_10: no value or CI where the numerator is below 10 (Fingertips rule).
-- Each area is compared with its police force area: better / similar / worse when the area's
-- 95% CI lies wholly below / spans / lies wholly above the comparator's value, read through the
-- indicator's polarity.
with value as (
    select * from {{ ref('int_indicator__value') }}
),

catalogue as (
    select * from {{ ref('indicator_catalogue') }}
),

hierarchy as (
    select distinct lsoa21_code, msoa21_code, lad_code, csp_code, pfa_code from {{ ref('int_area_hierarchy') }}
),

parent_pfa as (
    select lsoa21_code as area_code, pfa_code from hierarchy
    union select msoa21_code, pfa_code from hierarchy where msoa21_code is not null
    union select lad_code, pfa_code from hierarchy
    union select csp_code, pfa_code from hierarchy
),

disclosed as (
    select
        v.*,
        c.polarity,
        case c.disclosure_rule
            when 'rate_count_below_10' then v.numerator < 10
            else false
        end as is_suppressed
    from value as v
    join catalogue as c using (indicator_id)
),

compared as (
    select
        d.*,
        case when d.area_type = 'pfa' then null else p.pfa_code end as comparator_area_code,
        cmp.value                                                as comparator_value
    from disclosed as d
    left join parent_pfa as p on p.area_code = d.area_code
    left join disclosed as cmp
        on cmp.indicator_id = d.indicator_id
       and cmp.area_code = p.pfa_code
       and cmp.area_type = 'pfa'
       and cmp.period_type = d.period_type
       and cmp.period_start = d.period_start
       and not cmp.is_suppressed
       and d.area_type <> 'pfa'
)

select
    indicator_id::varchar                                        as indicator_id,
    area_code::varchar                                           as area_code,
    area_type::varchar                                           as area_type,
    period_type::varchar                                         as period_type,
    period_start::date                                           as period_start,
    period_end::date                                             as period_end,
    numerator::bigint                                            as numerator,
    denominator::double                                          as denominator,
    (case when is_suppressed then null else value end)::double       as value,
    (case when is_suppressed then null else lower_ci_95 end)::double as lower_ci_95,
    (case when is_suppressed then null else upper_ci_95 end)::double as upper_ci_95,
    comparator_area_code::varchar                                as comparator_area_code,
    (case
        when is_suppressed or comparator_value is null then 'not compared'
        when lower_ci_95 > comparator_value then
            case polarity when 'lower_is_better' then 'worse' when 'higher_is_better' then 'better' else 'higher' end
        when upper_ci_95 < comparator_value then
            case polarity when 'lower_is_better' then 'better' when 'higher_is_better' then 'worse' else 'lower' end
        else 'similar'
    end)::varchar                                                as comparison,
    is_suppressed::boolean                                       as is_suppressed,
    (case when is_suppressed then 'numerator below 10: rate and CI not published (Fingertips rule)' end)::varchar
                                                                 as suppression_reason
from compared
