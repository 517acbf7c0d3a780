"""An attacker with the whole published file: recover hidden counts of indicators under the NHS
small-number rule (tests/test_disclosure_attack.py runs it on the demo and on a hand-worked case).

Every published cell of an NHS-rule indicator (indicator × area × period), and every count of
the A&E profile (fct_ae_assault_profile: area × period × dimension × category), is an unknown count
with what the file says about it:
  hidden, reason "1 to 7"          1..7
  hidden, reason "secondary"       0 or 8 and more (a secondary cell is not a small count)
  hidden, one reason for both      1 and more (zeros are published, secondary cells are not 0),
                                   or 0 and more where the reason says zeros are hidden too
  published 0                      exactly 0 (counts 1–7 are never published)
  published r > 0                  r − 2 .. r + 2 (rounded to 5), at least 8; when values are
                                   withheld below 10 true events, below 10 exactly when no value
                                   is published
  value × denominator / multiplier exactly that count, when the file's values are computed from
                                   true counts (it is, if any value disagrees with its published
                                   rounded count)
and every linear relation between published cells the attacker can read off dim_area and the
periods' dates:
  geography   parent = Σ children, for every pair of levels whose children tile the parent
              (checked by LSOA counts from dim_area), for every indicator and period (a force
              and above over areas below force level: Σ children plus the records placed in no
              LSOA, when the file has located_percent, within what the published share allows)
  breakdown   a profile's total = Σ its categories along each dimension (hour × day, location
              type, method)
  time        period = Σ sub-periods that tile it (months in a quarter or a year, quarters in a
              year, months in a rolling 12 months), and for every two overlapping periods of one
              area the difference P1 − P2 = Σ months of P1 not in P2 − Σ months of P2 not in P1
              (consecutive rolling 12 months: month(t) − month(t − 12))
Bounds are propagated through all relations to a fixed point (set-based, in DuckDB), then each
hidden cell's candidates are enumerated by brute force: a value is a candidate when every relation
the cell is in can still be met with the other cells inside their bounds. A cell with one
candidate is recovered. Trend statistics are checked to carry nothing beyond the published cells
(recomputed from them), and CIs to be those of the published count.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

BIG = 10**9      # no upper bound known
Z95 = 1.959963984540054


def _setup(con: duckdb.DuckDBPyConnection, profile: bool) -> dict:
    # the A&E profile's counts are cells too: '<family>:<dimension>:<category>', whose categories
    # add up to '<family>:all:all' (every category is listed, zeros included)
    profile_cells = """
              UNION ALL
              SELECT 'ae_istv_profile:' || dimension || ':' || category, area_type, area_code, period_type,
                     period_start, period_end, date_diff('month', period_start, period_end + 1), attendances,
                     NULL, NULL, NULL, NULL, NULL, 'count', suppression_reason, NULL
              FROM p.fct_ae_assault_profile""" if profile else ""
    con.execute(f"""
        CREATE OR REPLACE TABLE cell AS
        SELECT row_number() OVER (ORDER BY indicator_id, area_type, area_code, period_type, period_start)::INTEGER AS id, *
        FROM (SELECT v.indicator_id, v.area_type, v.area_code, v.period_type, v.period_start, v.period_end,
                     date_diff('month', v.period_start, v.period_end + 1) AS months,
                     v.numerator, v.denominator, v.value, v.lower_ci_95, v.upper_ci_95, i.multiplier, i.method,
                     v.suppression_reason, v.located_percent
              FROM p.fct_indicator_value AS v JOIN p.dim_indicator AS i USING (indicator_id)
              WHERE i.disclosure_rule = 'nhs_small_numbers' AND (v.numerator IS NOT NULL OR v.is_suppressed)
              {profile_cells})""")
    # are values computed from true counts? then value × denominator / multiplier is the count
    values_exact = con.execute("""
        SELECT coalesce(bool_or(abs(value * denominator / multiplier - numerator) > 1e-6), false)
        FROM cell WHERE value IS NOT NULL AND method <> 'dsr'""").fetchone()[0]
    # is the value withheld below 10 true events? then a published 10 without a value is 8 or 9,
    # and with one 10 to 12 (under the rounded-count threshold a published 10 always has one)
    threshold_on_true_count = con.execute(
        "SELECT count(*) > 0 FROM cell WHERE numerator >= 10 AND value IS NULL AND method <> 'count'").fetchone()[0]
    reasons_distinct = con.execute("""
        SELECT count(DISTINCT suppression_reason) > 1 FROM cell WHERE numerator IS NULL""").fetchone()[0]
    con.execute(f"""
        CREATE OR REPLACE TABLE bound AS
        SELECT id,
               CASE WHEN numerator IS NULL AND suppression_reason ILIKE '%between 1 and 7%' THEN 1
                    WHEN numerator IS NULL AND suppression_reason ILIKE 'secondary%' THEN 0
                    WHEN numerator IS NULL AND suppression_reason ILIKE '%from 0 to 7%' THEN 0
                    WHEN numerator IS NULL THEN 1   -- a hidden count is never 0 (zeros are published)
                    WHEN numerator = 0 THEN 0
                    WHEN {values_exact} AND value IS NOT NULL AND method <> 'dsr' THEN round(value * denominator / multiplier)
                    WHEN {threshold_on_true_count} AND value IS NOT NULL THEN greatest(numerator - 2, 10)
                    ELSE greatest(numerator - 2, 8) END::BIGINT AS lo,
               CASE WHEN numerator IS NULL AND suppression_reason ILIKE '%between 1 and 7%' THEN 7
                    WHEN numerator IS NULL THEN {BIG}
                    WHEN numerator = 0 THEN 0
                    WHEN {values_exact} AND value IS NOT NULL AND method <> 'dsr' THEN round(value * denominator / multiplier)
                    WHEN {threshold_on_true_count} AND value IS NULL THEN least(numerator + 2, 9)
                    ELSE numerator + 2 END::BIGINT AS hi,
               -- known not to lie in 1..7: published counts, and secondary cells when the reason says so
               numerator IS NOT NULL OR suppression_reason ILIKE 'secondary%' AS not_small
        FROM cell""")
    # a force's (or region's) own located share p% of a shown count n needs some whole number of
    # placed records k ≤ n with p − ½ ≤ 100k/n < p + ½, or, where the file gives shares in bands
    # of 10 (every share a multiple of 10), p ≤ 100k/n < p + 10: the counts n without one are out
    banded = con.execute("""
        SELECT coalesce(bool_and(located_percent % 10 = 0), false) FROM cell WHERE located_percent IS NOT NULL""").fetchone()[0]
    low, width = (0, 10) if banded else (0.5, 1)
    con.execute(f"""
        CREATE OR REPLACE TABLE bound AS
        WITH fits AS (
            SELECT b.id, min(n.n) AS lo, max(n.n) AS hi
            FROM bound AS b JOIN cell AS c USING (id), range(b.lo, b.hi + 1) AS n (n)
            WHERE c.located_percent IS NOT NULL AND c.numerator > 0 AND c.area_type IN ('pfa', 'region', 'country')
              AND ceil((c.located_percent - {low}) * n.n / 100) <= n.n
              AND ceil((c.located_percent - {low}) * n.n / 100) < (c.located_percent - {low} + {width}) * n.n / 100
            GROUP BY b.id
        )
        SELECT b.id, coalesce(f.lo, b.lo) AS lo, coalesce(f.hi, b.hi) AS hi, b.not_small,
               f.lo > b.lo OR f.hi < b.hi AS narrowed_by_share
        FROM bound AS b LEFT JOIN fits AS f USING (id)""")
    narrowed_by_share = con.execute("SELECT count(*) FILTER (WHERE narrowed_by_share) FROM bound").fetchone()[0]
    con.execute("ALTER TABLE bound DROP COLUMN narrowed_by_share")
    return {"values_exact": values_exact, "reasons_distinct": reasons_distinct, "narrowed_by_share": narrowed_by_share,
            "shares_banded": banded,
            "threshold_on_true_count": threshold_on_true_count}


def _relations(con: duckdb.DuckDBPyConnection) -> None:
    """member(rid, cell_id, coef): Σ coef × count = 0 for each relation rid."""
    types = [t for (t,) in con.execute("SELECT DISTINCT area_type FROM p.dim_area").fetchall()]
    columns = {c for (c,) in con.execute(
        "SELECT column_name FROM (DESCRIBE p.dim_area)").fetchall()}
    lsoa_counts = " UNION ALL ".join(
        f"SELECT '{t}' AS area_type, parent_{t}_code AS area_code, count(*) AS lsoas FROM p.dim_area "
        f"WHERE area_type = 'lsoa' AND parent_{t}_code IS NOT NULL GROUP BY ALL"
        for t in types if f"parent_{t}_code" in columns)
    con.execute(f"""
        CREATE OR REPLACE TABLE area_lsoas AS
        {lsoa_counts} UNION ALL SELECT 'lsoa', area_code, 1 FROM p.dim_area WHERE area_type = 'lsoa'""")
    nestings = " UNION ALL ".join(
        f"SELECT area_type AS child_type, area_code AS child_code, '{t}' AS parent_type, parent_{t}_code AS parent_code "
        f"FROM p.dim_area WHERE parent_{t}_code IS NOT NULL AND area_type <> '{t}'"
        for t in types if f"parent_{t}_code" in columns)
    con.execute(f"CREATE OR REPLACE TABLE nesting AS {nestings}")
    con.execute("""
        CREATE OR REPLACE TABLE member AS
        WITH geo AS (
            -- parent = Σ children, where the children's LSOAs are all the parent's
            SELECT pc.id AS parent_id, cc.id AS child_id, n.child_type,
                   sum(cl.lsoas) OVER w AS child_lsoas, any_value(pl.lsoas) OVER w AS parent_lsoas,
                   count(*) OVER w AS children,
                   count(*) FILTER (WHERE cc.id IS NOT NULL) OVER w AS child_cells
            FROM nesting AS n
            JOIN area_lsoas AS cl ON cl.area_type = n.child_type AND cl.area_code = n.child_code
            JOIN area_lsoas AS pl ON pl.area_type = n.parent_type AND pl.area_code = n.parent_code
            JOIN cell AS pc ON pc.area_type = n.parent_type AND pc.area_code = n.parent_code
            LEFT JOIN cell AS cc ON cc.area_type = n.child_type AND cc.area_code = n.child_code
                AND cc.indicator_id = pc.indicator_id AND cc.period_type = pc.period_type
                AND cc.period_start = pc.period_start
            WINDOW w AS (PARTITION BY pc.id, n.child_type)
        ),
        tiles AS (
            -- period = Σ sub-periods of one type that tile it
            SELECT pc.id AS parent_id, cc.id AS child_id, cc.period_type AS child_type,
                   sum(cc.months) OVER (PARTITION BY pc.id, cc.period_type) AS child_months, pc.months
            FROM cell AS pc JOIN cell AS cc
              ON cc.indicator_id = pc.indicator_id AND cc.area_type = pc.area_type AND cc.area_code = pc.area_code
             AND cc.period_type <> pc.period_type AND cc.months < pc.months
             AND cc.period_start >= pc.period_start AND cc.period_end <= pc.period_end
        ),
        month_cell AS (SELECT * FROM cell WHERE period_type = 'month'),
        overlap_pair AS (
            -- two overlapping periods of one area: P1 − P2 − Σ(P1 \\ P2) + Σ(P2 \\ P1) = 0
            SELECT a.id AS a_id, b.id AS b_id, a.indicator_id, a.area_type, a.area_code,
                   a.period_start AS a_start, a.period_end AS a_end, b.period_start AS b_start, b.period_end AS b_end,
                   a.months + b.months - 2 * date_diff('month', greatest(a.period_start, b.period_start),
                                                       least(a.period_end, b.period_end) + 1) AS months_only_one,
                   dense_rank() OVER (ORDER BY a.id, b.id) AS pair
            FROM cell AS a JOIN cell AS b
              ON b.indicator_id = a.indicator_id AND b.area_type = a.area_type AND b.area_code = a.area_code
             AND a.id < b.id AND a.months > 1 AND b.months > 1
             AND a.period_start <= b.period_end AND b.period_start <= a.period_end
        ),
        breakdown AS (
            -- a total = Σ its categories along each dimension
            SELECT t.id AS total_id, c.id AS child_id, split_part(c.indicator_id, ':', 2) AS dimension
            FROM cell AS c JOIN cell AS t
              ON t.indicator_id = split_part(c.indicator_id, ':', 1) || ':all:all'
             AND t.area_type = c.area_type AND t.area_code = c.area_code
             AND t.period_type = c.period_type AND t.period_start = c.period_start
            WHERE c.indicator_id LIKE '%:%:%' AND split_part(c.indicator_id, ':', 2) <> 'all'
        ),
        overlap_month AS (
            -- the months only one of the pair has: the relation holds only with all of them
            SELECT o.pair, m.id,
                   (m.period_start BETWEEN o.b_start AND o.b_end)::INTEGER
                   - (m.period_start BETWEEN o.a_start AND o.a_end)::INTEGER AS coef
            FROM overlap_pair AS o JOIN month_cell AS m
              ON m.indicator_id = o.indicator_id AND m.area_type = o.area_type AND m.area_code = o.area_code
             AND ((m.period_start BETWEEN o.a_start AND o.a_end) <> (m.period_start BETWEEN o.b_start AND o.b_end))
            QUALIFY count(*) OVER (PARTITION BY o.pair) = any_value(o.months_only_one) OVER (PARTITION BY o.pair)
        ),
        complete_pair AS (
            SELECT * FROM overlap_pair WHERE months_only_one = 0 OR pair IN (SELECT pair FROM overlap_month)
        ),
        relation AS (
            SELECT 'part:' || total_id || ':' || dimension AS rid, total_id AS cell_id, 1 AS coef
            FROM breakdown GROUP BY ALL
            UNION ALL
            SELECT 'part:' || total_id || ':' || dimension, child_id, -1 FROM breakdown
            UNION ALL
            SELECT 'geo:' || parent_id || ':' || child_type AS rid, parent_id AS cell_id, 1 AS coef
            FROM geo WHERE child_lsoas = parent_lsoas AND children = child_cells GROUP BY ALL
            UNION ALL
            SELECT 'geo:' || parent_id || ':' || child_type, child_id, -1
            FROM geo WHERE child_lsoas = parent_lsoas AND children = child_cells
            UNION ALL
            SELECT 'time:' || parent_id || ':' || child_type, parent_id, 1
            FROM tiles WHERE child_months = months GROUP BY ALL
            UNION ALL
            SELECT 'time:' || parent_id || ':' || child_type, child_id, -1 FROM tiles WHERE child_months = months
            UNION ALL
            SELECT 'diff:' || pair, a_id, 1 FROM complete_pair
            UNION ALL
            SELECT 'diff:' || pair, b_id, -1 FROM complete_pair
            UNION ALL
            SELECT 'diff:' || pair, id, coef FROM overlap_month
        )
        SELECT rid, cell_id, sum(coef)::INTEGER AS coef FROM relation GROUP BY ALL HAVING sum(coef) <> 0""")
    # where records no LSOA holds count at the force's area and above (the file says how many
    # could be placed: located_percent), a force (or region, country) over areas below force level
    # is its children plus the records it could not place: one unknown per force cell, bounded by
    # the share published beside it (p% of n records placed leaves n × (99.5 − p)% to
    # n × (100.5 − p)% unplaced; a band p to p + 10, n × (90 − p)% to n × (100 − p)%)
    if "located_percent" in {c for (c,) in con.execute("SELECT column_name FROM (DESCRIBE p.fct_indicator_value)").fetchall()}:
        force_levels = "('pfa', 'region', 'country')"
        con.execute(f"""
            CREATE OR REPLACE TABLE slack AS
            SELECT DISTINCT m.rid, -c.id AS id, c.id AS parent_id
            FROM member AS m JOIN cell AS c ON c.id = m.cell_id
            WHERE m.rid LIKE 'geo:%' AND m.coef = 1 AND c.area_type IN {force_levels}
              AND split_part(m.rid, ':', 3) NOT IN {force_levels}
              AND c.indicator_id NOT LIKE '%|%'  -- a quantile holds placed records only""")
        con.execute("INSERT INTO member SELECT rid, id, -1 FROM slack")
        banded = con.execute("""SELECT coalesce(bool_and(located_percent % 10 = 0), false) FROM cell
                                WHERE located_percent IS NOT NULL""").fetchone()[0]
        low, width = (0, 10) if banded else (0.5, 1)
        con.execute(f"""
            INSERT INTO bound
            SELECT DISTINCT s.id,
                   CASE WHEN c.located_percent = 100 AND {banded} THEN 0
                        WHEN c.located_percent IS NOT NULL
                        THEN greatest(ceil(b.lo * (100 - c.located_percent + {low} - {width}) / 100), 0) ELSE 0 END,
                   CASE WHEN c.located_percent = 100 AND {banded} THEN 0
                        WHEN c.located_percent IS NOT NULL
                        THEN floor(b.hi * (100 - c.located_percent + {low}) / 100) ELSE {BIG} END,
                   false
            FROM slack AS s JOIN cell AS c ON c.id = s.parent_id JOIN bound AS b ON b.id = s.parent_id""")


def _quantile_cells(con: duckdb.DuckDBPyConnection) -> None:
    """The counts by IMD decile and quintile inside an area (fct_indicator_imd_quantile) of
    NHS-rule indicators are cells too: '<indicator>|<decile or quintile>:<q>', hidden or shown as
    any other count (they are cells of the secondary suppression, with its one reason): a hidden
    one is 1 or more where zeros are shown (0 or more where the reason says zeros are hidden), with
    no upper bound, and a shown one is its rounded count ± 2, at least 8."""
    con.execute("""
        INSERT INTO cell
        SELECT (SELECT coalesce(max(id), 0) FROM cell)
               + row_number() OVER (ORDER BY q.indicator_id, q.area_type, q.area_code, q.period_type, q.period_start,
                                    q.quantile_type, q.quantile)::INTEGER,
               q.indicator_id || '|' || q.quantile_type || ':' || q.quantile, q.area_type, q.area_code, q.period_type,
               q.period_start, q.period_end, date_diff('month', q.period_start, q.period_end + 1), q.numerator,
               q.denominator, q.value, q.lower_ci_95, q.upper_ci_95, i.multiplier, i.method, q.suppression_reason, NULL
        FROM p.fct_indicator_imd_quantile AS q JOIN p.dim_indicator AS i USING (indicator_id)
        WHERE i.disclosure_rule = 'nhs_small_numbers'""")
    con.execute(f"""
        INSERT INTO bound
        SELECT q.id,
               CASE WHEN q.numerator IS NULL OR q.numerator = 0 THEN 0
                    ELSE greatest(q.numerator - 2, 8) END::BIGINT,
               CASE WHEN q.numerator IS NULL THEN {BIG} ELSE q.numerator + 2 END::BIGINT,
               q.numerator IS NOT NULL
        FROM cell AS q
        WHERE q.indicator_id LIKE '%|%'""")
    # where zeros are shown, a hidden count is never 0
    con.execute("""
        UPDATE bound SET lo = 1 FROM cell AS c
        WHERE c.id = bound.id AND c.indicator_id LIKE '%|%' AND c.numerator IS NULL
          AND c.suppression_reason NOT ILIKE '%from 0 to 7%'""")


def _quantile_relations(con: duckdb.DuckDBPyConnection) -> None:
    """Relations the quantile cells are in, as dim_area gives them (each LSOA's decile and
    parents): a quantile = Σ its LSOAs in the area; a quintile = its two deciles; an area below
    force level whose every LSOA has a decile = Σ its deciles (and Σ its quintiles). Relations of
    quantile cells between areas and periods come from the general ones (_relations)."""
    columns = {c for (c,) in con.execute("SELECT column_name FROM (DESCRIBE p.dim_area)").fetchall()}
    types = [t for (t,) in con.execute("SELECT DISTINCT area_type FROM p.dim_area").fetchall()
             if f"parent_{t}_code" in columns]
    if not types or "imd_decile" not in columns:
        return
    con.execute("CREATE OR REPLACE TABLE lsoa_parent AS " + " UNION ALL ".join(
        f"SELECT area_code AS lsoa_code, imd_decile, '{t}' AS area_type, parent_{t}_code AS area_code "
        f"FROM p.dim_area WHERE area_type = 'lsoa' AND parent_{t}_code IS NOT NULL" for t in types))
    con.execute("""
        CREATE OR REPLACE TABLE quantile_cell AS
        SELECT id, split_part(indicator_id, '|', 1) AS base,
               split_part(split_part(indicator_id, '|', 2), ':', 1) AS quantile_type,
               split_part(split_part(indicator_id, '|', 2), ':', 2)::INTEGER AS quantile,
               area_type, area_code, period_type, period_start
        FROM cell WHERE indicator_id LIKE '%|%'""")
    con.execute("""
        INSERT INTO member
        WITH lsoas AS (
            SELECT q.id AS quantile_id, c.id AS lsoa_id,
                   count(*) OVER (PARTITION BY q.id) AS lsoas, count(c.id) OVER (PARTITION BY q.id) AS cells
            FROM quantile_cell AS q
            JOIN lsoa_parent AS l
              ON l.area_type = q.area_type AND l.area_code = q.area_code
             AND CASE q.quantile_type WHEN 'decile' THEN l.imd_decile ELSE (l.imd_decile + 1) // 2 END = q.quantile
            LEFT JOIN cell AS c ON c.indicator_id = q.base AND c.area_type = 'lsoa' AND c.area_code = l.lsoa_code
                 AND c.period_type = q.period_type AND c.period_start = q.period_start
        ),
        pairs AS (
            SELECT q.id AS quintile_id, d.id AS decile_id, count(*) OVER (PARTITION BY q.id) AS deciles
            FROM quantile_cell AS q
            JOIN quantile_cell AS d
              ON d.base = q.base AND d.area_type = q.area_type AND d.area_code = q.area_code
             AND d.period_type = q.period_type AND d.period_start = q.period_start
             AND d.quantile_type = 'decile' AND (d.quantile + 1) // 2 = q.quantile
            WHERE q.quantile_type = 'quintile'
        ),
        whole AS (
            -- every LSOA of the area has a decile; below force level, where its count is its LSOAs'
            SELECT a.id AS area_id, q.id AS quantile_id, q.quantile_type,
                   count(*) OVER (PARTITION BY a.id, q.quantile_type) AS quantiles
            FROM cell AS a
            JOIN quantile_cell AS q
              ON q.base = a.indicator_id AND q.area_type = a.area_type AND q.area_code = a.area_code
             AND q.period_type = a.period_type AND q.period_start = a.period_start
            WHERE a.area_type NOT IN ('pfa', 'region', 'country')
              AND (a.area_type, a.area_code) NOT IN (SELECT (area_type, area_code) FROM lsoa_parent
                                                     WHERE imd_decile IS NULL)
        )
        SELECT 'imd:' || quantile_id, quantile_id, 1 FROM lsoas WHERE lsoas = cells GROUP BY ALL
        UNION ALL
        SELECT 'imd:' || quantile_id, lsoa_id, -1 FROM lsoas WHERE lsoas = cells
        UNION ALL
        SELECT 'quintile:' || quintile_id, quintile_id, 1 FROM pairs WHERE deciles = 2 GROUP BY ALL
        UNION ALL
        SELECT 'quintile:' || quintile_id, decile_id, -1 FROM pairs WHERE deciles = 2
        UNION ALL
        SELECT 'area:' || area_id || ':' || quantile_type, area_id, 1 FROM whole
        WHERE quantiles = CASE quantile_type WHEN 'decile' THEN 10 ELSE 5 END GROUP BY ALL
        UNION ALL
        SELECT 'area:' || area_id || ':' || quantile_type, quantile_id, -1 FROM whole
        WHERE quantiles = CASE quantile_type WHEN 'decile' THEN 10 ELSE 5 END""")


def _inequality_leaks(con: duckdb.DuckDBPyConnection) -> list:
    """SII rows of NHS-rule indicators computed where a quantile is withheld, or not equal to the
    weighted regression of the published quantile values on their published shares (recomputed
    here from the denominators: normal equations of Σa(v − β0 − β1 b)²)."""
    return con.execute("""
        WITH q AS (
            SELECT q.*, q.denominator / sum(q.denominator) OVER g AS a,
                   (sum(q.denominator) OVER (g ORDER BY q.quantile) - q.denominator / 2) / sum(q.denominator) OVER g AS b
            FROM p.fct_indicator_imd_quantile AS q JOIN p.dim_indicator AS i USING (indicator_id)
            WHERE i.disclosure_rule = 'nhs_small_numbers'
            WINDOW g AS (PARTITION BY q.indicator_id, q.area_type, q.area_code, q.period_type, q.period_start,
                         q.quantile_type)
        ),
        s AS (
            SELECT indicator_id, area_type, area_code, period_type, period_start, quantile_type,
                   bool_or(is_suppressed OR value IS NULL) AS uses_hidden,
                   sum(a) AS s0, sum(a * b) AS s1, sum(a * b * b) AS s2, sum(a * value) AS sy, sum(a * b * value) AS sby
            FROM q GROUP BY ALL
        )
        SELECT s.*, e.sii FROM p.fct_indicator_inequality AS e JOIN s
            USING (indicator_id, area_type, area_code, period_type, period_start, quantile_type)
        WHERE e.sii IS NOT NULL
          AND (s.uses_hidden OR abs(e.sii - (s.s0 * s.sby - s.s1 * s.sy) / (s.s0 * s.s2 - s.s1 * s.s1))
                                > 1e-9 * greatest(1, abs(e.sii)))""").fetchall()


_DERIVE = """
    WITH m AS (
        SELECT k.rid, k.cell_id, k.coef,
               CASE WHEN k.coef > 0 THEN k.coef * b.lo ELSE k.coef * b.hi END AS own_lo,
               CASE WHEN k.coef > 0 THEN k.coef * b.hi ELSE k.coef * b.lo END AS own_hi
        FROM member AS k JOIN {bound} AS b ON b.id = k.cell_id
    ),
    s AS (SELECT rid, sum(own_lo) AS s_lo, sum(own_hi) AS s_hi FROM m GROUP BY rid)
    -- coef × x = −(the rest), the rest within [s_lo − own_lo, s_hi − own_hi]
    SELECT m.cell_id, m.rid,
           CASE WHEN m.coef > 0 THEN ceil(-(s.s_hi - m.own_hi) / m.coef)
                ELSE ceil((s.s_lo - m.own_lo) / -m.coef) END::BIGINT AS lo,
           CASE WHEN m.coef > 0 THEN floor(-(s.s_lo - m.own_lo) / m.coef)
                ELSE floor((s.s_hi - m.own_hi) / -m.coef) END::BIGINT AS hi
    FROM m JOIN s USING (rid)
"""


def _propagate(con: duckdb.DuckDBPyConnection, max_rounds: int = 200) -> int:
    for round_ in range(1, max_rounds + 1):
        con.execute(f"""
            CREATE OR REPLACE TABLE bound_next AS
            WITH d AS ({_DERIVE.format(bound='bound')}),
            agg AS (SELECT cell_id AS id, max(lo) AS lo, min(hi) AS hi FROM d GROUP BY ALL),
            tight AS (
                SELECT b.id, greatest(b.lo, coalesce(a.lo, b.lo)) AS lo, least(b.hi, coalesce(a.hi, b.hi)) AS hi,
                       b.not_small
                FROM bound AS b LEFT JOIN agg AS a USING (id)
            )
            SELECT id,
                   CASE WHEN not_small AND lo BETWEEN 1 AND 7 THEN 8 ELSE lo END AS lo,
                   CASE WHEN not_small AND hi BETWEEN 1 AND 7 THEN 0 ELSE hi END AS hi,
                   not_small
            FROM tight""")
        changed = con.execute("""SELECT count(*) FROM bound AS b JOIN bound_next AS n USING (id)
                                 WHERE b.lo <> n.lo OR b.hi <> n.hi""").fetchone()[0]
        con.execute("CREATE OR REPLACE TABLE bound AS SELECT * FROM bound_next")
        if not changed:
            return round_
    return max_rounds


def attack(published: Path | str, schema: str = "main") -> dict:
    """Try to recover every hidden count of the published file (or of a working warehouse's
    `marts` schema). Returns the hidden cells with their candidates, the recovered ones, and
    checks of the trend statistics and CIs."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{published}' AS src (READ_ONLY)")
    con.execute("ATTACH ':memory:' AS p")
    tables = {t for (t,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND schema_name = ?", [schema]).fetchall()}
    profile = "fct_ae_assault_profile" in tables
    inequality = {"fct_indicator_imd_quantile", "fct_indicator_inequality"} <= tables
    for table in ["fct_indicator_value", "fct_indicator_trend", "dim_area", "dim_indicator",
                  *(["fct_ae_assault_profile"] if profile else []),
                  *(["fct_indicator_imd_quantile", "fct_indicator_inequality"] if inequality else [])]:
        con.execute(f"CREATE VIEW p.{table} AS SELECT * FROM src.{schema}.{table}")
    facts = _setup(con, profile)
    if inequality:
        _quantile_cells(con)
    _relations(con)
    if inequality:
        _quantile_relations(con)
    rounds = _propagate(con)
    inconsistent = con.execute("SELECT count(*) FROM bound WHERE lo > hi").fetchone()[0]
    # brute force: each candidate value
    # against every relation the cell is in, the other cells within their bounds
    con.execute(f"""
        CREATE OR REPLACE TABLE candidate AS
        WITH hidden AS (SELECT c.id, b.lo, b.hi, b.not_small FROM cell AS c JOIN bound AS b USING (id)
                        WHERE c.numerator IS NULL),
        tried AS (
            -- 0..7, and every value of the cell's bound up to 50 above its floor (enough to count
            -- candidates: one is a recovery)
            SELECT h.id, v.v FROM hidden AS h, range(0, 8) AS v (v)
            UNION SELECT h.id, h.lo + k.k FROM hidden AS h, range(0, 51) AS k (k) WHERE h.lo + k.k <= h.hi
        ),
        d AS ({_DERIVE.format(bound='bound')}),
        domain AS (
            SELECT t.id, t.v FROM tried AS t JOIN hidden AS h USING (id)
            WHERE t.v BETWEEN h.lo AND h.hi AND NOT (h.not_small AND t.v BETWEEN 1 AND 7)
        )
        SELECT dm.id, dm.v FROM domain AS dm
        WHERE NOT EXISTS (SELECT 1 FROM d WHERE d.cell_id = dm.id AND (dm.v < d.lo OR dm.v > d.hi))""")
    cells = con.execute("""
        SELECT c.indicator_id, c.area_type, c.area_code, c.period_type, c.period_start, c.suppression_reason,
               list(k.v ORDER BY k.v) FILTER (WHERE k.v IS NOT NULL) AS candidates
        FROM cell AS c LEFT JOIN candidate AS k USING (id)
        WHERE c.numerator IS NULL GROUP BY ALL ORDER BY ALL""").fetchall()
    recovered = [c for c in cells if len(c[-1]) <= 1]
    # trend statistics: computed only where every point is published, and equal to the statistic
    # of the published counts (so they say nothing more). The points are the latest period and
    # those 12, 24, … months before it (consecutive years, rolling windows a year apart), `periods`
    # of them; a point missing from the file counts as hidden.
    trend_leaks = con.execute("""
        WITH t AS (SELECT t.* FROM p.fct_indicator_trend AS t JOIN p.dim_indicator AS i USING (indicator_id)
                   WHERE i.disclosure_rule = 'nhs_small_numbers' AND t.chi_squared IS NOT NULL),
        w AS (
            SELECT t.indicator_id, t.area_code, t.area_type, t.period_type, t.chi_squared, t.periods,
                   v.numerator AS o, v.denominator AS n, v.is_suppressed, t.periods - j.j AS t_
            FROM t CROSS JOIN LATERAL range(t.periods) AS j (j)
            LEFT JOIN p.fct_indicator_value AS v
                   ON v.indicator_id = t.indicator_id AND v.area_code = t.area_code AND v.area_type = t.area_type
                  AND v.period_type = t.period_type
                  AND v.period_start = (t.latest_period_start - to_months(12 * j.j::INTEGER))::DATE
        ),
        s AS (SELECT indicator_id, area_code, area_type, period_type, any_value(chi_squared) AS chi_squared,
                     bool_or(is_suppressed IS NOT false OR o IS NULL OR n IS NULL) AS uses_hidden,
                     sum(o) AS oo, sum(n) AS nn, sum(o * t_) AS ot, sum(n * t_) AS nt, sum(n * t_ * t_) AS ntt
              FROM w GROUP BY ALL)
        SELECT * FROM s
        WHERE uses_hidden OR abs(chi_squared - (ot - oo / nn * nt) ^ 2
                                 / (oo / nn * (1 - oo / nn) * (ntt - nt * nt / nn))) > 1e-9 * greatest(1, chi_squared)
        """).fetchall()
    # CIs: those of the published (rounded) count, else they would give the count back
    # A directly standardised rate's Dobson limits: (upper − dsr) / (dsr − lower) is a function of
    # the count alone, so it must be the published count's, else solving it gives the true count
    byar_low, byar_high = (f"numerator * power(1 - 1 / (9.0 * numerator) - {Z95} / (3 * sqrt(numerator)), 3)",
                           f"(numerator + 1) * power(1 - 1 / (9.0 * (numerator + 1)) + {Z95} / (3 * sqrt(numerator + 1)), 3)")
    ci_leaks = con.execute(f"""
        SELECT count(*) FROM cell
        WHERE value IS NOT NULL AND numerator >= 10 AND CASE
              WHEN method = 'dsr' THEN abs((upper_ci_95 - value) / (value - lower_ci_95)
                                           - ({byar_high} - numerator) / (numerator - {byar_low})) > 1e-9
              ELSE abs(lower_ci_95 - {byar_low} / denominator * multiplier) > 1e-9 * greatest(1, value) END
        """).fetchone()[0]
    # a reason beside a shown count says something about it (once: "below 10" beside a shown 10)
    reason_on_shown = con.execute(
        "SELECT count(*) FROM cell WHERE numerator IS NOT NULL AND suppression_reason IS NOT NULL").fetchone()[0]
    summary = con.execute("""
        SELECT count(*) AS hidden, count(*) FILTER (WHERE suppression_reason ILIKE 'secondary%') AS secondary_shown
        FROM cell WHERE numerator IS NULL""").fetchone()
    relations = con.execute("SELECT count(DISTINCT rid), count(*) FROM member").fetchone()
    inequality_leaks = _inequality_leaks(con) if inequality else []
    quantile_cells = con.execute("SELECT count(*) FROM cell WHERE indicator_id LIKE '%|%'").fetchone()[0]
    con.close()
    return {**facts, "cells": cells, "recovered": recovered, "rounds": rounds, "inconsistent": inconsistent,
            "trend_leaks": trend_leaks, "ci_leaks": ci_leaks, "reason_on_shown": reason_on_shown,
            "hidden": summary[0], "secondary_shown": summary[1],
            "relations": relations[0], "relation_members": relations[1],
            "inequality_leaks": inequality_leaks, "quantile_cells": quantile_cells}
