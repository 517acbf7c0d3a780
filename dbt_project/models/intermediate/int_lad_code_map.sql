-- Any local authority code, current or abolished, → the current district, keyed by code alone
-- (names change between vintages: "Kingston upon Hull, City of" / "Kingston upon Hull").
-- Abolished districts and counties follow ONS's every-code lookup (stg_ons__lad_all_codes, when
-- delivered) and seeds/lad_boundary_successor.csv, through chains (Taunton Deane → Somerset
-- West and Taunton (2019) → Somerset (2023)), so extracts and lookups from any year land on the
-- same current areas; where both give an old code a successor, the ONS lookup's is used. Codes
-- with no successor map to themselves. A current district is named by the every-code lookup,
-- else by the LSOA lookup, else by the CSP lookup.
with recursive successor as (
    select old_code, successor_code
    from (
        select lad_code as old_code, current_lad_code as successor_code, 1 as preference
        from {{ ref('stg_ons__lad_all_codes') }}
        where not is_current and lad_code <> current_lad_code
        union all
        select old_code, successor_code, 2 as preference
        from {{ ref('lad_boundary_successor') }}
    ) as successors
    qualify preference = min(preference) over (partition by old_code)
),

chain (lad_code, current_lad_code, steps) as (
    select old_code, successor_code, 1 from successor
    union all
    select c.lad_code, s.successor_code, c.steps + 1
    from chain as c
    join successor as s on s.old_code = c.current_lad_code
),

resolved as (
    select lad_code, current_lad_code
    from chain
    qualify steps = max(steps) over (partition by lad_code)
),

named as (
    select lad_code, arg_min(lad_name, preference) as lad_name
    from (
        select current_lad_code as lad_code, current_lad_name as lad_name, 1 as preference
        from {{ ref('stg_ons__lad_all_codes') }}
        union all
        select lad_code, lad_name, 2 as preference from {{ ref('stg_ons__lsoa21_lad') }}
        union all
        select lad_code, lad_name, 3 as preference from {{ ref('stg_ons__lad_csp_pfa') }}
        union all
        select successor_code, successor_name, 4 as preference from {{ ref('lad_boundary_successor') }}
    ) as lad_names
    where lad_name is not null
    group by lad_code
),

current_lads as (
    select lad_code from {{ ref('stg_ons__lsoa21_lad') }}
    union
    select lad_code from {{ ref('stg_ons__lad_csp_pfa') }}
    union
    select lad_code from {{ ref('stg_ons__lad_all_codes') }} where is_current
)

select r.lad_code, r.current_lad_code, n.lad_name as current_lad_name, true as is_abolished
from resolved as r
left join named as n on n.lad_code = r.current_lad_code
union all
select c.lad_code, c.lad_code as current_lad_code, n.lad_name as current_lad_name, false as is_abolished
from current_lads as c
left join named as n using (lad_code)
where c.lad_code not in (select lad_code from resolved)
