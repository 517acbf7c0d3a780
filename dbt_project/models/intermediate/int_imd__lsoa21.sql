-- IMD 2019 (published for LSOAs 2011) carried to LSOAs 2021. Where several LSOAs 2011 feed one
-- LSOA 2021 (merged or irregular), the most deprived (lowest rank) is taken: deciles cannot be
-- averaged, and erring towards deprivation keeps such areas visible when targeting.
select
    w.lsoa21_code,
    min(i.imd_rank)                          as imd_rank,
    arg_min(i.imd_decile, i.imd_rank)        as imd_decile
from {{ ref('int_lsoa11_to_lsoa21_weight') }} as w
join {{ ref('stg_imd__lsoa11') }} as i using (lsoa11_code)
where i.imd_decile is not null
group by w.lsoa21_code
