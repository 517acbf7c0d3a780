"""Disclosure without leaks (NHS small-number rule): an attacker with the whole published file
tries to recover every hidden count by brute force (tests/disclosure_attack.py), on the demo's
published file and on a case small enough to work out by hand."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from conftest import MINI_LSOAS, private_warehouse, write_mini_reference
from disclosure_attack import attack
from test_police_street_load import VIOLENCE, write_street

A = MINI_LSOAS[0][:2]
# one area with counts in a quarter: January 3, February 20, March 25; every other LSOA has none
QUARTER = {"2025-01": 3, "2025-02": 20, "2025-03": 25}
NHS_RULE = {
    "id": "test_small_numbers_rate", "name": "Test indicator under the NHS small-number rule",
    "definition": "Police violence counted as if it were hospital data, to exercise disclosure control.",
    "numerator": {"model": "int_police__crime_lsoa_month", "measure": "crime_count",
                  "where": "crime_type = 'Violence and sexual offences'", "description": "violence"},
    "denominator": {"population": "population_all_ages", "description": "all ages"},
    "multiplier": 100000, "method": "crude_rate", "polarity": "lower_is_better",
    "disclosure": "nhs_small_numbers", "source": "test",
    "area_types": ["lsoa", "msoa", "lad", "utla", "csp", "pfa"], "period_types": ["month", "quarter"],
}
# the areas holding LSOA A (Reading 001A), each of which counts exactly A's crimes
A_AND_PARENTS = [("lsoa", A[0]), ("msoa", "E02090001"), ("lad", "E06000038"), ("utla", "E06000038"),
                 ("csp", "E22000309"), ("pfa", "E23000029")]
POPULATION = {"lsoa": 1500, "msoa": 3500, "lad": 3500, "utla": 3500, "csp": 3500, "pfa": 7500}


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    root = tmp_path_factory.mktemp("disclosure")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        for month, count in QUARTER.items():
            write_street(landing / "police", month, [(A, VIOLENCE, count)])
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build", "--vars", json.dumps({"indicators": [NHS_RULE]})])
        yield get_settings()


def test_a_quarter_of_3_20_25_hides_january_and_the_zeros_by_hand(quarter):
    """Worked out by hand. January's 3 is a small count: hidden at every level, as A is the only
    LSOA with crimes, and so is every zero (the other LSOAs, Slough's areas). The quarter's 48 is
    shown rounded, 50, so January = quarter − February − March is only known to lie in
    50 ± 2 − (20 ± 2) − (25 ± 2), 0 to 11 (a hidden count may be 0): no secondary suppression is
    needed, and February's 20, March's 25 and the quarter stay published, the quarter's value and
    CI computed from its published count, 50."""
    with duckdb.connect(str(quarter.working_db), read_only=True) as con:
        got = {(t, c, m): (n, s) for t, c, m, n, s in con.execute("""
            SELECT v.area_type, v.area_code, strftime(v.period_start, '%Y-%m') || ' ' || v.period_type,
                   v.numerator, d.suppression_cause
            FROM marts.fct_indicator_value AS v
            JOIN intermediate.int_indicator__disclosed AS d USING (indicator_id, area_code, area_type, period_type,
                                                                   period_start)""").fetchall()}
        values = {(t, c): (v, lo, hi) for t, c, v, lo, hi in con.execute("""
            SELECT area_type, area_code, value, lower_ci_95, upper_ci_95 FROM marts.fct_indicator_value
            WHERE period_type = 'quarter'""").fetchall()}
        reasons = {r for (r,) in con.execute(
            "SELECT DISTINCT suppression_reason FROM marts.fct_indicator_value WHERE numerator IS NULL").fetchall()}
    for key in A_AND_PARENTS:
        assert got[(*key, "2025-01 month")] == (None, "small count"), key
        assert got[(*key, "2025-02 month")] == (20, None), key
        assert got[(*key, "2025-03 month")] == (25, None), key
        assert got[(*key, "2025-01 quarter")] == (50, None), key
        value, lower, upper = values[key]
        byar_lower = 50 * (1 - 1 / (9 * 50) - 1.959963984540054 / (3 * 50 ** 0.5)) ** 3
        assert value == pytest.approx(50 / POPULATION[key[0]] * 100_000, rel=1e-12)
        assert lower == pytest.approx(byar_lower / POPULATION[key[0]] * 100_000, rel=1e-12)
        assert upper > value
    # nothing else hidden but the zeros, as counts 0 to 7 (a shown zero would tell that every
    # hidden count is at least 1)
    hidden = {k for k, (n, _) in got.items() if n is None}
    zeros = {k for k, (_, cause) in got.items() if k[:2] not in A_AND_PARENTS}
    assert all(got[k] == (None, "small count") for k in zeros)
    assert hidden == zeros | {(*key, "2025-01 month") for key in A_AND_PARENTS}
    # the published file does not say which hidden count is the small one
    assert len(reasons) == 1 and next(iter(reasons)).startswith("hidden: a count from 0 to 7, or")


def test_the_located_share_is_never_that_of_a_hidden_count(quarter):
    """Every record here has a location (100%). In January the force's count (3) is hidden, so no
    area shows a share (below force level the share is the force's: it would narrow the hidden
    count down); in February and March (shown) every area with a shown count shows 100 (the NHS
    rule's band: 100 only when every record was placed), the hidden zeros none."""
    with duckdb.connect(str(quarter.working_db), read_only=True) as con:
        shares = con.execute("""SELECT strftime(period_start, '%m'), list(DISTINCT located_percent)
                                FROM marts.fct_indicator_value WHERE period_type = 'month'
                                GROUP BY 1 ORDER BY 1""").fetchall()
    assert [(m, set(v)) for m, v in shares] == [("01", {None}), ("02", {None, 100.0}), ("03", {None, 100.0})]


def test_the_hand_worked_case_gives_nothing_back(quarter):
    found = attack(quarter.working_db, schema="marts")
    with duckdb.connect(str(quarter.working_db), read_only=True) as con:
        cells = con.execute("SELECT count(*) FROM marts.fct_indicator_value").fetchone()[0]
    # all but A's February, March and quarter at its six levels
    assert found["hidden"] == cells - 18 and found["inconsistent"] == 0
    assert not found["values_exact"] and not found["reasons_distinct"]
    assert found["recovered"] == []
    # January: 0..7 are all still possible
    january = next(c for c in found["cells"] if c[1:4] == ("lsoa", A[0], "month") and c[4].month == 1)
    assert set(range(8)) <= set(january[-1])


@pytest.fixture(scope="module")
def demo_attack(demo_run):
    warehouse, run = demo_run
    assert run.returncode == 0, run.stdout[-2000:]
    return attack(warehouse / "published" / "vru.duckdb")


def test_published_statistics_are_computed_from_published_cells_only(demo_attack):
    # values and CIs are those of the published (rounded) count, so value × denominator /
    # multiplier gives back the rounded count, not the true one
    assert not demo_attack["values_exact"] and demo_attack["ci_leaks"] == 0 and demo_attack["reason_on_shown"] == 0
    # every trend statistic's window is published and the statistic is that of the published
    # counts (recomputed here)
    assert demo_attack["trend_leaks"] == []
    assert not demo_attack["reasons_distinct"]
    # a located share is published beside a shown count only where it fits every count the rounded
    # one can stand for (the demo's force-level shares once narrowed one count to a single value)
    assert demo_attack["narrowed_by_share"] == 0
    # the attacker's reading of the file is consistent (every bound holds a value)
    assert demo_attack["hidden"] > 1000 and demo_attack["inconsistent"] == 0


def test_no_hidden_count_can_be_recovered_from_the_published_demo(demo_attack):
    """Every hidden count of the demo's published file keeps more than one candidate."""
    recovered = demo_attack["recovered"]
    assert not recovered, f"{len(recovered)} of {demo_attack['hidden']} hidden counts recovered, e.g. {recovered[:3]}"
    assert all(len(c[-1]) > 1 for c in demo_attack["cells"])


# one crime a month for a year in LSOA A, none anywhere else
TWELVE_ONES = {f"2025-{m:02d}": 1 for m in range(1, 13)}
YEARLY = {**NHS_RULE, "id": "test_small_numbers_yearly", "period_types": ["month", "quarter", "calendar_year"]}


@pytest.fixture(scope="module", params=[True, False], ids=["zeros hidden", "zeros shown"])
def twelve_ones(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("twelve-ones")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        for month, count in TWELVE_ONES.items():
            write_street(landing / "police", month, [(A, VIOLENCE, count)])
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build", "--vars", json.dumps({"indicators": [YEARLY], "nhs_small_numbers_hide_zeros": request.param})])
        yield request.param, get_settings()


def _published(settings, period_type: str) -> dict:
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        return {(t, c): (n, cause) for t, c, n, cause in con.execute("""
            SELECT v.area_type, v.area_code, v.numerator, d.suppression_cause
            FROM marts.fct_indicator_value AS v
            JOIN intermediate.int_indicator__disclosed AS d USING (indicator_id, area_code, area_type, period_type,
                                                                   period_start)
            WHERE v.period_type = ?""", [period_type]).fetchall()}


def test_twelve_hidden_ones_are_not_given_back_by_their_year(twelve_ones, tmp_path):
    """Worked out by hand. A's twelve months are 1 each, hidden; its quarters (3) too. The year, 12,
    would be shown as 10, that is 8 to 12. Where zeros are shown, every hidden count is at least 1,
    so twelve hidden months adding up to at most 12 are each exactly 1: the audit hides the year at
    every level that counts only A's crimes (its quarters, 3 each, are hidden already). Shown that
    year (as the file would have it without the audit), the attack gives every month back. Where
    zeros are hidden too, a hidden month is 0 to 12 and the year is shown at every level."""
    zeros_hidden, settings = twelve_ones
    found = attack(settings.working_db, schema="marts")
    assert found["recovered"] == [] and found["inconsistent"] == 0
    year = _published(settings, "calendar_year")
    for key in A_AND_PARENTS:
        assert year[key] == ((10, None) if zeros_hidden else (None, "secondary")), key
    if zeros_hidden:
        return
    # the same file with the audit's year shown as the rule alone would show it: 12 → 10
    exposed = tmp_path / "exposed.duckdb"
    with duckdb.connect(str(exposed)) as con:
        con.execute(f"ATTACH '{settings.working_db}' AS w (READ_ONLY)")
        for table in ["fct_indicator_value", "fct_indicator_trend", "dim_area", "dim_indicator"]:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM w.marts.{table}")
        shown = con.execute("""
            UPDATE fct_indicator_value SET numerator = 10, is_suppressed = false, suppression_reason = null,
                                           value = 10 / denominator * 100000
            WHERE period_type = 'calendar_year' AND numerator IS NULL""").fetchone()[0]
    assert shown == len(A_AND_PARENTS)
    recovered = attack(exposed)["recovered"]
    assert {(c[1], c[2], c[4].month) for c in recovered if c[3] == "month"} == {
        (*key, m) for key in A_AND_PARENTS for m in range(1, 13)}
    assert all(c[-1] == [1] for c in recovered if c[3] == "month")


def test_a_changed_month_redecides_what_is_hidden_and_matches_a_full_rebuild(twelve_ones, tmp_path):
    """Zeros shown, June replaced, 1 → 2 crimes: the year is 13, shown as 15 (13 to 17), and the
    twelve hidden months (each at least 1) can now each be 1 to 6, so the audit no longer hides the
    year. An incremental build rebuilds the whole NHS-rule indicator (int_refresh__indicator:
    the audit needs every cell of it) and matches a full rebuild of the same deliveries."""
    zeros_hidden, built_settings = twelve_ones
    if zeros_hidden:
        pytest.skip("the audit hides nothing here when zeros are hidden")
    from ingestion import pipeline
    from ingestion.settings import Settings
    from ingestion.transform import run_dbt

    built = {}
    for how in ("incremental", "full"):
        settings = Settings(warehouse_dir=tmp_path / how)
        settings.warehouse_dir.mkdir()
        shutil.copy(built_settings.working_db, settings.working_db)
        june = write_street(tmp_path / f"{how}-landing", "2025-06", [(A, VIOLENCE, 2)])
        pipeline.ingest_police_street(june, settings=settings)
        pipeline.check_raw(settings)
        run_dbt(["build", "--vars", json.dumps({"indicators": [YEARLY], "nhs_small_numbers_hide_zeros": False})]
                + (["--full-refresh"] if how == "full" else []), settings=settings)
        built[how] = settings
    year = _published(built["incremental"], "calendar_year")
    assert all(year[key] == (15, None) for key in A_AND_PARENTS)
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{built['incremental'].working_db}' AS i (READ_ONLY)")
        con.execute(f"ATTACH '{built['full'].working_db}' AS f (READ_ONLY)")
        differ = con.execute("""SELECT count(*) FROM ((SELECT * FROM i.marts.fct_indicator_value
                                                       EXCEPT ALL SELECT * FROM f.marts.fct_indicator_value)
                                                      UNION ALL (SELECT * FROM f.marts.fct_indicator_value
                                                       EXCEPT ALL SELECT * FROM i.marts.fct_indicator_value))""").fetchone()
    assert differ == (0,)
