-- Each school of the schools register: its URN, its LA establishment number (LA number and
-- establishment number, as older releases identify schools) and the LSOA it stands in.
select
    school_urn,
    la_number,
    establishment_number,
    case when la_number is not null and establishment_number is not null
         then la_number || lpad(establishment_number, 4, '0') end    as school_laestab,
    school_name,
    lsoa_code                                                        as lsoa_code_as_published,
    open_date,
    close_date,
    _source_file                                                     as source_file
from {{ source('dfe', 'dfe_school_register') }}
where _load_id in {{ accepted_load_ids('dfe_school_register') }}
