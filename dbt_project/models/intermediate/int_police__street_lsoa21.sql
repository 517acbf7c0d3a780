-- Street records placed in LSOAs 2021. Each delivered file carries one LSOA vintage: a file with
-- codes that exist only as LSOAs 2011 is a 2011 file, and all its codes go through the LSOA 2011
-- → 2021 weights (unchanged codes with weight 1, split ones shared by population), so a record
-- may count as fractions of one in several LSOAs 2021 while totals stay whole. Records in LSOAs
-- outside the reporting force's area are kept and attributed by their LSOA.
with street as (
    select * from {{ ref('stg_police__street') }}
),

lsoa21 as (
    select distinct lsoa21_code from {{ ref('stg_ons__lsoa21_lad') }}
),

weights as (
    select * from {{ ref('int_lsoa11_to_lsoa21_weight') }}
),

file_vintage as (
    select
        s.source_file,
        case when count(*) filter (where l21.lsoa21_code is null
                                     and s.lsoa_code_as_published in (select lsoa11_code from weights)) > 0
             then '2011' else '2021' end as lsoa_vintage
    from street as s
    left join lsoa21 as l21 on l21.lsoa21_code = s.lsoa_code_as_published
    where s.lsoa_code_as_published is not null
    group by s.source_file
)

select
    s.*,
    coalesce(v.lsoa_vintage, '2021')                                as lsoa_vintage,
    coalesce(w.lsoa21_code, s.lsoa_code_as_published)               as lsoa21_code,
    coalesce(w.weight, 1.0)                                         as record_weight
from street as s
left join file_vintage as v using (source_file)
left join weights as w
    on v.lsoa_vintage = '2011' and w.lsoa11_code = s.lsoa_code_as_published
