-- Street records placed in LSOAs 2021, translating files published with LSOA 2011 codes through
-- the population-weighted lookup (macros/lsoa21_translation.sql). Records in LSOAs outside the
-- reporting force's area are kept and attributed by their LSOA. A view: its two readers each
-- take a few columns, which costs less than writing every record's columns to a table again.
{{ config(materialized='view') }}
{{ lsoa21_translated(ref('stg_police__street')) }}
