select
    lad_code,
    lad_name,
    csp_code,
    csp_name,
    pfa_code,
    pfa_name,
    _vintage as lookup_vintage
from {{ source('ons', 'ons_lad_csp_pfa') }}
