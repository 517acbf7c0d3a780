"""Which NHS-rule counts are hidden: the small counts, then secondary suppression until no hidden
count can be worked out from everything else the published file says.

Two passes, repeated until neither hides anything more:
  one hidden cell   a relation (int_disclosure__relation) with exactly one hidden cell gives it
                    back as the relation's other cells added or subtracted: hide its smallest
                    non-zero shown cell (a child or a month before a total; never a zero, which a
                    published zero total would give back).            cause: secondary
  audit             read the file as an attacker does: every shown count within its rounding
                    (int_disclosure__cell), every hidden one 1 or more (one published reason for
                    all), every relation's other cells bounding each of its cells, to a fixed
                    point. A hidden count whose bounds meet is recovered: hide the smallest
                    non-zero shown cell of a relation it is in (or, when those are all hidden or
                    zero, of a relation one of those hidden cells is in, and so on).  cause: audit
Hiding a shown count only widens what an attacker knows of it, so each pass can only free cells,
and the loop ends (at worst with every non-zero cell of a tangle hidden). It is a Python model
because the passes repeat a fixed point inside a fixed point; every step is one set-based query.
"""

BIG = 10**9  # no upper bound known
MAX_PASSES = 500

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


def _hide_where_one_hidden(con) -> int:
    """One pass: in each relation with exactly one hidden cell, hide its smallest non-zero shown cell."""
    before = _run(con, "select count(*) from disclosure_hidden")[0][0]
    _run(con, """
        insert into disclosure_hidden
        select distinct cell_id, 'secondary', ?
        from (
            select r.cell_id
            from disclosure_relation as r
            join disclosure_cell as c using (cell_id)
            where c.numerator > 0 and r.cell_id not in (select cell_id from disclosure_hidden)
              and r.relation_id in (
                  select relation_id from disclosure_relation
                  where cell_id in (select cell_id from disclosure_hidden)
                  group by relation_id having count(*) = 1)
            qualify row_number() over (partition by r.relation_id order by r.is_parent, c.numerator, r.cell_id) = 1
        )""", [_pass(con)])
    return _run(con, "select count(*) from disclosure_hidden")[0][0] - before


def _pass(con) -> int:
    return _run(con, "select coalesce(max(hidden_in_pass), 0) + 1 from disclosure_hidden")[0][0]


def _recovered(con) -> int:
    """The attacker's bounds to a fixed point; the hidden cells whose bounds meet (or cross)."""
    _run(con, f"""
        create or replace temp table disclosure_bound as
        select c.cell_id as member_id,
               case when h.cell_id is not null then 1 else c.shown_low end as lo,
               case when h.cell_id is not null then {BIG} else c.shown_high end as hi
        from disclosure_cell as c left join disclosure_hidden as h using (cell_id)
        union all
        -- what a parent holds beyond its cells: 0 or more
        select member_id, 0, {BIG} from disclosure_member where member_id < 0""")
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
    _run(con, """
        create or replace temp table disclosure_recovered as
        select member_id as cell_id from disclosure_bound
        where member_id in (select cell_id from disclosure_hidden) and lo >= hi""")
    return _run(con, "select count(*) from disclosure_recovered")[0][0]


def _hide_around_recovered(con) -> int:
    """For each recovered cell, the smallest non-zero shown cell of a relation it is in; where there
    is none, look one relation further, through the hidden cells of those relations."""
    pass_ = _pass(con)
    _run(con, """
        create or replace temp table disclosure_front as
        select cell_id as origin, cell_id from disclosure_recovered""")
    _run(con, "create or replace temp table disclosure_seen as select origin, cell_id from disclosure_front")
    hidden = 0
    while _run(con, "select count(*) from disclosure_front")[0][0]:
        _run(con, """
            create or replace temp table disclosure_choice as
            select f.origin, r2.cell_id
            from disclosure_front as f
            join disclosure_relation as r1 on r1.cell_id = f.cell_id
            join disclosure_relation as r2 on r2.relation_id = r1.relation_id
            join disclosure_cell as c on c.cell_id = r2.cell_id
            where c.numerator > 0 and r2.cell_id not in (select cell_id from disclosure_hidden)
            qualify row_number() over (partition by f.origin order by r2.is_parent, c.numerator, r2.cell_id) = 1""")
        before = _run(con, "select count(*) from disclosure_hidden")[0][0]
        _run(con, "insert into disclosure_hidden select distinct cell_id, 'audit', ? from disclosure_choice",
                    [pass_])
        hidden += _run(con, "select count(*) from disclosure_hidden")[0][0] - before
        # origins with no shown cell around them: go on through the hidden cells beside them
        _run(con, """
            create or replace temp table disclosure_front as
            select distinct f.origin, r2.cell_id
            from disclosure_front as f
            join disclosure_relation as r1 on r1.cell_id = f.cell_id
            join disclosure_relation as r2 on r2.relation_id = r1.relation_id
            where f.origin not in (select origin from disclosure_choice)
              and r2.cell_id in (select cell_id from disclosure_hidden)
              and (f.origin, r2.cell_id) not in (select (origin, cell_id) from disclosure_seen)""")
        _run(con, "insert into disclosure_seen select origin, cell_id from disclosure_front")
    return hidden


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("int_disclosure__cell").create_view("disclosure_cell_in", replace=True)
    dbt.ref("int_disclosure__relation").create_view("disclosure_relation_in", replace=True)
    con = session
    _run(con, """
        create or replace temp table disclosure_cell as
        select cell_id, numerator, is_small_count, shown_low, shown_high from disclosure_cell_in""")
    _run(con, """
        create or replace temp table disclosure_relation as
        select dense_rank() over (order by relation_id) as relation_id, cell_id, coefficient, is_parent, has_remainder
        from disclosure_relation_in""")
    # the members of each relation: its cells, and for a parent that may hold more than its cells,
    # one more unknown (id −relation) with coefficient −1
    _run(con, """
        create or replace temp table disclosure_member as
        select relation_id, cell_id as member_id, coefficient from disclosure_relation
        union all
        select distinct relation_id, -relation_id, -1 from disclosure_relation where has_remainder""")
    _run(con, """
        create or replace temp table disclosure_hidden as
        select cell_id, 'small count' as suppression_cause, 0 as hidden_in_pass
        from disclosure_cell where is_small_count""")
    for _ in range(MAX_PASSES):
        while _hide_where_one_hidden(con):
            pass
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
