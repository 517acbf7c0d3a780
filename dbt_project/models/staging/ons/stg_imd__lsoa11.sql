select
    lsoa11_code,
    imd_rank,
    nullif(imd_decile, 0) as imd_decile   -- 0 marks Welsh LSOAs in GB-wide copies
from {{ source('ons', 'imd2019_lsoa11') }}
