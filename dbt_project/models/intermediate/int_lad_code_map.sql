-- Any local authority code, current or abolished, → the current district. Abolished districts
-- and counties follow seeds/lad_boundary_successor.csv, through chains (Taunton Deane →
-- Somerset West and Taunton (2019) → Somerset (2023)), so extracts from any year land on the
-- same current areas. Codes not in the seed map to themselves.
with recursive successor as (
    select * from {{ ref('lad_boundary_successor') }}
),

chain (lad_code, current_lad_code, current_lad_name, steps) as (
    select old_code, successor_code, successor_name, 1 from successor
    union all
    select c.lad_code, s.successor_code, s.successor_name, c.steps + 1
    from chain as c
    join successor as s on s.old_code = c.current_lad_code
),

resolved as (
    select lad_code, current_lad_code, current_lad_name
    from chain
    qualify steps = max(steps) over (partition by lad_code)
),

current_lads as (
    select distinct lad_code, lad_name from {{ ref('stg_ons__lsoa21_lad') }}
    union
    select distinct lad_code, lad_name from {{ ref('stg_ons__lad_csp_pfa') }}
)

select lad_code, current_lad_code, current_lad_name, true as is_abolished from resolved
union all
select c.lad_code, c.lad_code as current_lad_code, c.lad_name as current_lad_name, false as is_abolished
from current_lads as c
where c.lad_code not in (select lad_code from resolved)
