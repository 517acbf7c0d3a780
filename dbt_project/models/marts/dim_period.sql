-- Periods that have indicator values, with the calendar, financial (Apr–Mar) and academic
-- (Sep–Aug) years and the quarter each month belongs to.
with months as (
    select distinct period_type, period_start, period_end from {{ ref('int_indicator__value') }}
)

select
    (period_type || ':' || strftime(period_start, '%Y-%m'))::varchar as period_id,
    period_type::varchar                                           as period_type,
    period_start::date                                             as period_start,
    period_end::date                                               as period_end,
    strftime(period_start, '%Y-%m')::varchar                       as period_label,
    year(period_start)::integer                                    as calendar_year,
    (year(period_start) || '-Q' || quarter(period_start))::varchar  as calendar_quarter,
    (case when month(period_start) >= 4
          then year(period_start) || '/' || right((year(period_start) + 1)::varchar, 2)
          else (year(period_start) - 1) || '/' || right(year(period_start)::varchar, 2)
     end)::varchar                                                 as financial_year,
    (case when month(period_start) >= 9
          then year(period_start) || '/' || right((year(period_start) + 1)::varchar, 2)
          else (year(period_start) - 1) || '/' || right(year(period_start)::varchar, 2)
     end)::varchar                                                 as academic_year
from months
