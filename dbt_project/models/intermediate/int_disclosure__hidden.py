"""Which NHS-rule counts are hidden: the small counts (1 to 7, and zeros unless they are shown),
then secondary suppression until no hidden count can be worked out from everything else the
published file says.

The audit reads the file as an attacker does: every shown count within its rounding
(int_disclosure__cell), every hidden one 0 or more (1 or more where zeros are shown; one published
reason for all), and every relation (int_disclosure__relation) bounding each of its cells by its
other cells, to a fixed point. A hidden count left with fewer than MIN_CANDIDATES possible values
is exposed (twelve hidden 1s adding up to a year shown as 10, say): the smallest non-zero shown
cell of the smallest relation it is in that has one is hidden too (or, when those are all hidden,
of a relation one of those hidden cells is in, and so on), and the audit runs again.
Hiding a shown count only widens what an attacker knows of it, so each pass can only free cells,
and the loop ends (at worst with every non-zero cell of a tangle hidden). The classic rule (no
relation with exactly one hidden cell) is not used: with counts rounded to 5 one hidden cell in a
relation is still a range, and the rule would hide every count beside a hidden zero.
It is a Python model because the passes repeat a fixed point inside a fixed point; every step is
one set-based query.
"""

BIG = 10**9  # no upper bound known
MAX_PASSES = 500
MIN_CANDIDATES = 3  # a hidden count must keep at least this many possible values

# bounds on each member of each relation from the relation's other members: coefficient × x =
# −(the rest), the rest within [s_lo − own_lo, s_hi − own_hi]
_DERIVE = """
    with m as (
        select k.relation_id, k.member_id, k.coefficient,
               case when k.coefficient > 0 then k.coefficient * b.lo else k.coefficient * b.hi end as own_lo,
               case when k.coefficient > 0 then k.coefficient * b.hi else k.coefficient * b.lo end as own_hi
        from disclosure_member as k join disclosure_bound as b using (member_id)
    ),
    s as (select relation_id, sum(own_lo) as s_lo, sum(own_hi) as s_hi from m group by relation_id)
    select m.member_id,
           max(case when m.coefficient > 0 then ceil(-(s.s_hi - m.own_hi) / m.coefficient)
                    else ceil((s.s_lo - m.own_lo) / -m.coefficient) end)::bigint as lo,
           min(case when m.coefficient > 0 then floor(-(s.s_lo - m.own_lo) / m.coefficient)
                    else floor((s.s_hi - m.own_hi) / -m.coefficient) end)::bigint as hi
    from m join s using (relation_id)
    group by m.member_id
"""


def _run(con, query: str, params=()) -> list:
    """A statement run to completion: DuckDB takes no more work on a connection with a result left."""
    return con.execute(query, list(params)).fetchall()


def _pass(con) -> int:
    return _run(con, "select coalesce(max(hidden_in_pass), 0) + 1 from disclosure_hidden")[0][0]


def _recovered(con) -> int:
    """The attacker's bounds to a fixed point; the hidden cells left with too few possible values."""
    _run(con, f"""
        create or replace temp table disclosure_bound as
        select c.cell_id as member_id,
               case when h.cell_id is not null then c.hidden_low else c.shown_low end as lo,
               case when h.cell_id is not null then {BIG} else c.shown_high end as hi
        from disclosure_cell as c left join disclosure_hidden as h using (cell_id)
        union all
        -- what a parent holds beyond its cells: 0 or more; a force's records no LSOA holds within
        -- what the located share published beside its shown count allows
        select distinct m.member_id,
               case when h.cell_id is null then coalesce(c.unplaced_low, 0) else 0 end,
               case when h.cell_id is null then coalesce(c.unplaced_high, {BIG}) else {BIG} end
        from disclosure_member as m
        left join disclosure_cell as c on c.cell_id = -m.member_id
        left join disclosure_hidden as h on h.cell_id = -m.member_id
        where m.member_id < 0""")
    while True:
        _run(con, f"""
            create or replace temp table disclosure_bound_next as
            select b.member_id, greatest(b.lo, coalesce(d.lo, b.lo)) as lo, least(b.hi, coalesce(d.hi, b.hi)) as hi
            from disclosure_bound as b left join ({_DERIVE}) as d using (member_id)""")
        changed = _run(con, """
            select count(*) from disclosure_bound as b join disclosure_bound_next as n using (member_id)
            where b.lo <> n.lo or b.hi <> n.hi""")[0][0]
        _run(con, "create or replace temp table disclosure_bound as select * from disclosure_bound_next")
        if not changed:
            break
    _run(con, f"""
        create or replace temp table disclosure_recovered as
        select member_id as cell_id from disclosure_bound
        where member_id in (select cell_id from disclosure_hidden) and hi - lo + 1 < {MIN_CANDIDATES}""")
    return _run(con, "select count(*) from disclosure_recovered")[0][0]


def _hide_around_recovered(con) -> int:
    """For each recovered cell, the smallest non-zero shown cell of a relation it is in; where there
    is none, look one relation further, through the hidden cells of those relations, and so on."""
    pass_ = _pass(con)
    # each relation's smallest non-zero shown cell (a part before a total), and its size: the
    # smallest relations are the ones that pin a cell (a month in its quarter, an LSOA in its MSOA),
    # where one more hidden cell frees it soonest
    _run(con, """
        create or replace temp table disclosure_relation_min as
        select r.relation_id, r.cell_id, r.is_parent, c.numerator, s.cells
        from disclosure_relation as r
        join disclosure_cell as c using (cell_id)
        join (select relation_id, count(*) as cells from disclosure_relation group by all) as s using (relation_id)
        anti join disclosure_hidden as h using (cell_id)
        where c.numerator > 0
        qualify row_number() over (partition by r.relation_id order by r.is_parent, c.numerator, r.cell_id) = 1""")
    _run(con, "create or replace temp table disclosure_front as select cell_id as origin, cell_id from disclosure_recovered")
    before = _run(con, "select count(*) from disclosure_hidden")[0][0]
    for _ in range(MAX_PASSES):  # a shown cell is always some relations away (see the docstring)
        if not _run(con, "select count(*) from disclosure_front")[0][0]:
            break
        _run(con, """
            create or replace temp table disclosure_choice as
            select f.origin, m.cell_id
            from disclosure_front as f
            join disclosure_relation as r using (cell_id)
            join disclosure_relation_min as m using (relation_id)
            qualify row_number() over (partition by f.origin order by m.cells, m.is_parent, m.numerator, m.cell_id) = 1""")
        _run(con, """
            insert into disclosure_hidden
            select distinct cell_id, 'secondary', ? from disclosure_choice anti join disclosure_hidden using (cell_id)""",
             [pass_])
        # origins with no shown cell around them: go on through the hidden cells beside them
        _run(con, """
            create or replace temp table disclosure_front_next as
            select distinct f.origin, r2.cell_id
            from (select * from disclosure_front anti join disclosure_choice using (origin)) as f
            join disclosure_relation as r1 using (cell_id)
            join disclosure_relation as r2 on r2.relation_id = r1.relation_id
            semi join disclosure_hidden as h on h.cell_id = r2.cell_id
            anti join disclosure_front as seen on seen.origin = f.origin and seen.cell_id = r2.cell_id""")
        _run(con, "create or replace temp table disclosure_front as select * from disclosure_front_next")
    return _run(con, "select count(*) from disclosure_hidden")[0][0] - before


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("int_disclosure__cell").create_view("disclosure_cell_in", replace=True)
    dbt.ref("int_disclosure__relation").create_view("disclosure_relation_in", replace=True)
    con = session
    _run(con, """
        create or replace temp table disclosure_cell as
        select cell_id, numerator, is_small_count, hidden_low, shown_low, shown_high, unplaced_low, unplaced_high
        from disclosure_cell_in""")
    _run(con, """
        create or replace temp table disclosure_relation as
        select dense_rank() over (order by relation_id) as relation_id, cell_id, coefficient, is_parent, remainder_kind
        from disclosure_relation_in""")
    # the members of each relation: its cells, and where a parent may hold more than its cells, one
    # more unknown with coefficient −1: a force's records no LSOA holds (one per force cell, id
    # −cell), or children with no cell (one per relation, below every −cell id)
    _run(con, """
        create or replace temp table disclosure_member as
        select relation_id, cell_id as member_id, coefficient from disclosure_relation
        union all
        select relation_id,
               case when remainder_kind = 'unplaced' then -parent_id
                    else -(relation_id + (select max(cell_id) from disclosure_cell)) end,
               -1
        from (select relation_id, any_value(remainder_kind) as remainder_kind, max(cell_id) filter (where is_parent) as parent_id
              from disclosure_relation where remainder_kind is not null group by relation_id)""")
    _run(con, """
        create or replace temp table disclosure_hidden as
        select cell_id, 'small count' as suppression_cause, 0 as hidden_in_pass
        from disclosure_cell where is_small_count""")
    for _ in range(MAX_PASSES):
        if not _recovered(con):
            break
        if not _hide_around_recovered(con):
            raise RuntimeError("disclosure audit: a hidden count can be worked out and no shown count is left to hide")
    else:
        raise RuntimeError(f"disclosure audit: hidden counts still recoverable after {MAX_PASSES} passes")
    return con.sql("""
        select c.indicator_id, c.area_type, c.area_code, c.period_type, c.period_start,
               h.suppression_cause, h.hidden_in_pass
        from disclosure_hidden as h join disclosure_cell_in as c using (cell_id)""")
