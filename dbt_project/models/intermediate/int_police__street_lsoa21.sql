-- Street records placed in LSOAs 2021, translating files published with LSOA 2011 codes through
-- the population-weighted lookup (macros/lsoa21_translation.sql). Records in LSOAs outside the
-- reporting force's area are kept and attributed by their LSOA.
{{ lsoa21_translated(ref('stg_police__street')) }}
