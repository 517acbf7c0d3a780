"""The trend test over comparable periods only (issue 18): consecutive years, or rolling 12 months a
year apart, never months or quarters; a missing year ends the series; under the NHS rule the
statistic is that of the published rounded counts, and the disclosure attack recomputes it.

Fixture: police.uk street files for every month from April 2019 to November 2025 except November
2020 (never delivered), so each kind of year has a different run ending at its latest:
- calendar years 2021–2024 (2020 lacks November; 2019 lacks January to March; 2025 is unfinished);
- financial years 2021/22–2024/25, four; 2019/20 is published but lies before the gap (2020/21);
- rolling 12 months ending in November 2021, 2022, 2023, 2024 and 2025, five (the window ending
  November 2020 lacks its last month).
LSOA A rises every year; C has the same summer peak every year; B has two crimes a month except
in 2022, when it has none (hidden under the NHS rule)."""

from __future__ import annotations

import json
import shutil
from datetime import date

import duckdb
import pytest

from conftest import MINI_LSOAS, private_warehouse, write_mini_reference
from disclosure_attack import attack
from test_indicator_engine import cochran_armitage
from test_police_street_load import VIOLENCE, write_street

A, B, C, D = (lsoa[:2] for lsoa in MINI_LSOAS)
MISSING = "2020-11"
MONTHS = [f"{y}-{m:02d}" for y in range(2019, 2026) for m in range(1, 13)
          if "2019-04" <= f"{y}-{m:02d}" <= "2025-11" and f"{y}-{m:02d}" != MISSING]
A_PER_MONTH = {2019: 10, 2020: 10, 2021: 11, 2022: 12, 2023: 14, 2024: 16, 2025: 18}
# a summer peak, the same every year: the last five months (July to November) fall from 30 to 10
SEASON = {1: 8, 2: 8, 3: 10, 4: 12, 5: 16, 6: 22, 7: 30, 8: 26, 9: 20, 10: 14, 11: 10, 12: 8}


def crimes(lsoa: tuple[str, str], month: str) -> int:
    year, m = int(month[:4]), int(month[5:])
    if lsoa == A:
        return A_PER_MONTH[year]
    if lsoa == B:
        return 0 if year == 2022 else 2
    if lsoa == C:
        return SEASON[m]
    return 0


def total(lsoa: tuple[str, str], first_month: str, months: int = 12) -> int:
    """The crimes of the `months` months from first_month, summed here from the fixture."""
    y, m = int(first_month[:4]), int(first_month[5:])
    return sum(crimes(lsoa, f"{y + (m - 1 + i) // 12}-{(m - 1 + i) % 12 + 1:02d}") for i in range(months))


def nhs_rounded(count: int) -> int:
    return 5 * round(count / 5)            # never a half: a whole count / 5 ends in .0, .2, .4, .6 or .8


BASE = {
    "numerator": {"model": "int_police__crime_lsoa_month", "measure": "crime_count",
                  "where": "crime_type = 'Violence and sexual offences'", "description": "violence"},
    "denominator": {"population": "population_all_ages", "description": "all ages"},
    "multiplier": 100000, "method": "crude_rate", "source": "test", "area_types": ["lsoa", "msoa", "lad", "pfa"],
}
NO_POLARITY = {**BASE, "id": "test_trend_open", "name": "Test indicator, published as counted",
               "definition": "Police violence, no disclosure control.", "polarity": "no_judgement",
               "disclosure": "none",
               "period_types": ["month", "quarter", "calendar_year", "financial_year", "rolling_12_months"]}
# yearly only: the NHS rule's audit over overlapping rolling windows grows with the cube of the months
HEALTH_STYLE = {**BASE, "id": "test_trend_nhs", "name": "Test indicator under the NHS small-number rule",
                "definition": "Police violence counted as if it were hospital data.", "polarity": "lower_is_better",
                "disclosure": "nhs_small_numbers", "period_types": ["calendar_year"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("trend")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        for month in MONTHS:
            write_street(landing / "police", month, [(lsoa, VIOLENCE, crimes(lsoa, month)) for lsoa in (A, B, C)])
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build", "--vars", json.dumps({"indicators": [NO_POLARITY, HEALTH_STYLE]})])
        yield get_settings()


def trend(settings, indicator: str, lsoa: tuple[str, str], period_type: str):
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        return con.execute("""SELECT latest_period_start, periods, chi_squared, trend FROM marts.fct_indicator_trend
                              WHERE indicator_id = ? AND area_code = ? AND period_type = ?""",
                           [indicator, lsoa[0], period_type]).fetchall()


def test_calendar_and_financial_years_are_tested_over_the_unbroken_run_ending_at_the_latest(built):
    # calendar years 2021–2024: 132, 144, 168, 192 crimes in A's 1,500 people (2020, with no
    # November, breaks the series; the years before it are not used)
    years = [total(A, f"{y}-01") for y in range(2021, 2025)]
    assert years == [132, 144, 168, 192]
    chi, score = cochran_armitage(years, [1500.0] * 4)
    assert chi > 3.841 and score > 0
    assert trend(built, "test_trend_open", A, "calendar_year") == [
        (date(2024, 1, 1), 4, pytest.approx(chi, rel=1e-9), "increasing")]
    # financial years 2021/22–2024/25; 2019/20 is published but the missing 2020/21 cuts it off
    fy = [total(A, f"{y}-04") for y in range(2021, 2025)]
    assert fy == [11 * 9 + 12 * 3, 12 * 9 + 14 * 3, 14 * 9 + 16 * 3, 16 * 9 + 18 * 3]
    with duckdb.connect(str(built.working_db), read_only=True) as con:
        published = con.execute("""SELECT strftime(period_start, '%Y'), numerator FROM marts.fct_indicator_value
                                   WHERE indicator_id = 'test_trend_open' AND area_code = ?
                                     AND period_type = 'financial_year' ORDER BY 1""", [A[0]]).fetchall()
    assert published == [("2019", 120), ("2020", None), *((str(y), n) for y, n in enumerate(fy, 2021))]
    assert trend(built, "test_trend_open", A, "financial_year") == [
        (date(2024, 4, 1), 4, pytest.approx(cochran_armitage(fy, [1500.0] * 4)[0], rel=1e-9), "increasing")]


def test_rolling_12_months_are_tested_over_windows_a_year_apart(built):
    # the windows ending in November 2021 … 2025 (December to November): five, none overlapping
    windows = [total(A, f"{y}-12") for y in range(2020, 2025)]
    assert windows == [11 * 11 + 10, 12 * 11 + 11, 14 * 11 + 12, 16 * 11 + 14, 18 * 11 + 16]
    chi, _ = cochran_armitage(windows, [1500.0] * 5)
    assert trend(built, "test_trend_open", A, "rolling_12_months") == [
        (date(2024, 12, 1), 5, pytest.approx(chi, rel=1e-9), "increasing")]


def test_months_and_quarters_are_never_tested_so_season_is_not_a_trend(built):
    # C's last five months fall from the summer peak, 30, 26, 20, 14, 10: tested as a series this
    # would be "decreasing" far beyond chance, yet every year is the same
    chi, score = cochran_armitage([SEASON[m] for m in range(7, 12)], [1800.0] * 5)
    assert chi > 3.841 and score < 0
    with duckdb.connect(str(built.working_db), read_only=True) as con:
        tested = {t for (t,) in con.execute("SELECT DISTINCT period_type FROM marts.fct_indicator_trend").fetchall()}
    assert tested == {"calendar_year", "financial_year", "rolling_12_months"}
    # its years: the same count each, no change
    assert total(C, "2021-01") == total(C, "2024-01") == sum(SEASON.values())
    assert trend(built, "test_trend_open", C, "calendar_year") == [(date(2024, 1, 1), 4, pytest.approx(0, abs=1e-9),
                                                                   "no significant change")]


def test_under_the_nhs_rule_the_statistic_is_that_of_the_published_rounded_counts(built):
    published = [nhs_rounded(total(A, f"{y}-01")) for y in range(2021, 2025)]
    assert published == [130, 145, 170, 190]
    chi, score = cochran_armitage(published, [1500.0] * 4)
    assert chi > 3.841 and score > 0 and chi != pytest.approx(cochran_armitage([132, 144, 168, 192], [1500.0] * 4)[0])
    assert trend(built, "test_trend_nhs", A, "calendar_year") == [
        (date(2024, 1, 1), 4, pytest.approx(chi, rel=1e-9), "increasing and getting worse")]
    # B's 2022 (no crimes) is hidden: no statistic at all over a window holding it
    assert trend(built, "test_trend_nhs", B, "calendar_year") == [(date(2024, 1, 1), 4, None, "could not be calculated")]


def test_the_attack_recomputes_every_trend_from_published_cells_and_catches_one_that_is_not(built, tmp_path):
    with duckdb.connect(str(built.working_db), read_only=True) as con:
        computed = con.execute("""SELECT count(*) FROM marts.fct_indicator_trend
                                  WHERE indicator_id = 'test_trend_nhs' AND chi_squared IS NOT NULL""").fetchone()[0]
    assert computed > 0
    assert attack(built.working_db, schema="marts")["trend_leaks"] == []
    # the same file with A's statistic taken from its true counts, and with B's taken over its hidden 2022
    changed = tmp_path / "changed.duckdb"
    shutil.copy(built.working_db, changed)
    true_chi = cochran_armitage([132, 144, 168, 192], [1500.0] * 4)[0]
    b_chi = cochran_armitage([25, 0, 25, 25], [2000.0] * 4)[0]
    with duckdb.connect(str(changed)) as con:
        con.execute("""UPDATE marts.fct_indicator_trend SET chi_squared = CASE area_code WHEN ? THEN ? ELSE ? END
                       WHERE indicator_id = 'test_trend_nhs' AND period_type = 'calendar_year'
                         AND area_type = 'lsoa' AND area_code IN (?, ?)""", [A[0], true_chi, b_chi, A[0], B[0]])
    leaks = attack(changed, schema="marts")["trend_leaks"]
    assert {(r[1], r[3]) for r in leaks} == {(A[0], "calendar_year"), (B[0], "calendar_year")}


def test_the_fingertips_export_says_the_trend_on_the_latest_tested_year_only(built):
    from ingestion.export import _fingertips_select, _macros

    with duckdb.connect() as con:
        con.execute(f"ATTACH '{built.working_db}' AS w (READ_ONLY)")
        con.execute("USE w.marts")
        _macros(con)
        said = {(i, a, p): w for i, a, p, w in con.execute(f"""
            SELECT "Indicator ID", "Area Code", "Time period", "Recent Trend" FROM ({_fingertips_select()})
            WHERE "Area Code" IN (?, ?)""", [A[0], B[0]]).fetchall() if w}
    # nothing on any month or quarter row, nor on the years before the latest
    assert said == {("test_trend_open", A[0], "2024"): "Increasing",
                    ("test_trend_open", A[0], "2024/25"): "Increasing",
                    ("test_trend_open", A[0], "Dec 2024 – Nov 2025"): "Increasing",
                    ("test_trend_nhs", A[0], "2024"): "Increasing and getting worse",
                    ("test_trend_open", B[0], "2024"): "No significant change",
                    ("test_trend_open", B[0], "2024/25"): "No significant change",
                    ("test_trend_open", B[0], "Dec 2024 – Nov 2025"): "No significant change",
                    ("test_trend_nhs", B[0], "2024"): "Cannot be calculated"}


def test_the_points_tested_run_from_trend_min_periods_to_trend_periods(built, tmp_path):
    """A's calendar years are an unbroken run of four (2021–2024) and its rolling windows of five.
    At most three points (vars.trend_periods 3, with the minimum also 3) test the latest three
    years; at least five (vars.trend_min_periods 5) leave the four years too few to test, while
    the five rolling windows are still tested."""
    from ingestion.settings import Settings
    from ingestion.transform import run_dbt

    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    settings.warehouse_dir.mkdir()
    shutil.copy(built.working_db, settings.working_db)

    def rebuild(**trend_vars):
        run_dbt(["run", "--select", "fct_indicator_trend", "--vars",
                 json.dumps({"indicators": [NO_POLARITY, HEALTH_STYLE], **trend_vars})], settings=settings)

    rebuild(trend_periods=3)
    latest_three = [total(A, f"{y}-01") for y in (2022, 2023, 2024)]
    chi, score = cochran_armitage(latest_three, [1500.0] * 3)
    label = "no significant change" if chi <= 3.841458820694124 else "increasing" if score > 0 else "decreasing"
    assert trend(settings, "test_trend_open", A, "calendar_year") == [
        (date(2024, 1, 1), 3, pytest.approx(chi, rel=1e-9), label)]
    rebuild(trend_min_periods=5)
    assert trend(settings, "test_trend_open", A, "calendar_year") == [
        (date(2024, 1, 1), 4, None, "could not be calculated")]
    windows = [total(A, f"{y}-12") for y in range(2020, 2025)]
    assert trend(settings, "test_trend_open", A, "rolling_12_months") == [
        (date(2024, 12, 1), 5, pytest.approx(cochran_armitage(windows, [1500.0] * 5)[0], rel=1e-9), "increasing")]
