-- Forces' recorded crimes counted at LSOA 2021 × month × offence, with the flags the Home Office
-- knife-enabled serious violence measure needs. A crime is knife-enabled serious violence when
-- the force flags a knife or sharp instrument and its offence code is one of the Home Office's
-- selected offences (seed ho_knife_serious_violence_offence; homicide comes from the Homicide
-- Index, not here). Victim ages are reduced to the bands indicators use; no record-level field
-- leaves this model. Crimes not geocoded to an LSOA are kept with lsoa21_code null: indicators
-- count them in the force's area and above.
with crimes as (
    {{ lsoa21_translated(ref('stg_police__force_recorded_crime')) }}
),

selected_offences as (
    select offence_code from {{ ref('ho_knife_serious_violence_offence') }}
)

select
    c.lsoa21_code,
    c.month_start,
    c.force                                                              as reporting_force_id,
    c.offence_code,
    c.is_knife_or_sharp_instrument,
    (c.is_knife_or_sharp_instrument and s.offence_code is not null)    as is_knife_serious_violence,
    case when c.victim_age is null then 'unknown'
         when c.victim_age < 25 then 'under_25'
         else '25_and_over' end                                          as victim_age_group,
    sum(c.record_weight)                                                 as crime_count
from crimes as c
left join selected_offences as s using (offence_code)
group by all
