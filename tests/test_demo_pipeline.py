"""The demo end to end through Airflow itself (`vru demo` → `airflow dags test vru_pipeline`)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from conftest import MINI_LSOAS, write_mini_reference
from test_police_street_load import VIOLENCE, write_street

VRU = Path(sys.executable).with_name("vru")


def run_vru(args: list[str], warehouse: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "VRU_WAREHOUSE_DIR": str(warehouse), "COLUMNS": "160"}
    return subprocess.run([str(VRU), *args], env=env, capture_output=True, text=True, timeout=600, check=False)


def published_digest(path: Path) -> dict[str, tuple[int, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        out = {}
        for table in ["fct_indicator_value", "fct_police_crime_lsoa_month", "dim_area", "dim_period"]:
            rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            out[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        return out


# demo_run: the demo run once per session (conftest.py), shared with test_disclosure_attack.py


def test_demo_runs_through_airflow_and_prints_the_lad_table_and_paths(demo_run):
    warehouse, run = demo_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for task in ["load_reference", "ingest_police_street", "ingest_force_crime", "check_raw", "dbt_build", "check_marts",
                 "publish", "report"]:
        assert f"{task}: success" in run.stdout
    for lad in ["Bracknell Forest", "Buckinghamshire", "Milton Keynes", "Oxford", "Reading", "Slough",
                "West Oxfordshire", "Wokingham"]:
        assert lad in run.stdout
    assert str(warehouse / "published" / "vru.duckdb") in run.stdout.replace("\n", "")
    assert (warehouse / "published" / "vru.duckdb").exists()
    assert (warehouse / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()
    # school exclusions beside the region and England as DfE publishes them; the report's path last
    assert "School permanent exclusions, Thames Valley, 2023/24" in run.stdout
    report = warehouse / "published" / "report" / "index.html"
    assert report.exists() and str(report) in run.stdout.strip().replace("\n", "").split("Indicator report")[-1]


def test_planted_hotspot_and_seasonal_peak_are_found_again(demo_run):
    warehouse, run = demo_run
    hotspot = next(line.split("violence hotspot, LSOA ")[1].split()[0] for line in run.stdout.splitlines()
                   if "violence hotspot, LSOA" in line)
    with duckdb.connect(str(warehouse / "published" / "vru.duckdb"), read_only=True) as con:
        annual = con.execute("""
            SELECT area_code, sum(numerator) / avg(denominator) * 1000 AS annual_rate
            FROM fct_indicator_value WHERE indicator_id = 'violence_offences_rate' AND area_type = 'lsoa'
              AND period_type = 'month'
            GROUP BY area_code ORDER BY annual_rate DESC LIMIT 2""").fetchall()
        force = con.execute("""
            SELECT sum(numerator) / avg(denominator) * 1000 FROM fct_indicator_value
            WHERE indicator_id = 'violence_offences_rate' AND area_type = 'pfa' AND period_type = 'month'""").fetchone()[0]
        worse_months = con.execute("""
            SELECT count(*) FROM fct_indicator_value
            WHERE area_code = ? AND comparison = 'worse' AND period_type = 'month'
              AND indicator_id = 'violence_offences_rate'""", [hotspot]).fetchone()[0]
        peak = con.execute("""
            SELECT strftime(period_start, '%m') FROM fct_indicator_value
            WHERE indicator_id = 'violence_offences_rate' AND area_type = 'pfa' AND period_type = 'month'
            ORDER BY numerator DESC LIMIT 1""").fetchone()[0]
        calendar_year = con.execute("""
            SELECT numerator, comparison FROM fct_indicator_value
            WHERE area_code = ? AND period_type IN ('calendar_year', 'rolling_12_months', 'financial_year')
              AND indicator_id = 'violence_offences_rate'""", [hotspot]).fetchall()
    assert annual[0][0] == hotspot and annual[0][1] > 3 * force
    assert worse_months >= 20          # significantly worse than Thames Valley in most of the 24 months
    assert peak == "07"
    # April 2023 to March 2025: calendar year 2024, 13 rolling years and 2 financial years, all worse
    assert [c for _, c in calendar_year] == ["worse"] * (1 + 13 + 2)


def test_readme_example_returns_both_financial_years_counted_from_the_files(demo_run):
    """The README's example query, run as an analyst would, returns every district for both of the
    demo's financial years; its counts equal the street files' violence rows in each district's
    LSOAs over April–March (counted with DuckDB's CSV reader), and the demo's district table,
    comparisons and rounding are said in plain words."""
    warehouse, run = demo_run
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    example = readme.split("```sql\n")[1].split("```")[0]
    with duckdb.connect(str(warehouse / "published" / "vru.duckdb"), read_only=True) as con:
        published = con.execute(example).fetchall()
    demo = warehouse / "landing" / "demo"
    with duckdb.connect() as con:
        counted = dict(con.execute(f"""
            SELECT (l.LAD24CD, make_date(CAST(left(s.Month, 4) AS INTEGER) - (right(s.Month, 2) < '04')::INTEGER, 4, 1)),
                   count(*)
            FROM read_csv('{demo}/police/*/*-street.csv', all_varchar = true) AS s
            JOIN read_csv('{demo}/ons/LSOA21_WD24_LAD24_EW_LU.csv', all_varchar = true) AS l
              ON l.LSOA21CD = s."LSOA code"
            WHERE s."Crime type" = 'Violence and sexual offences'
            GROUP BY ALL""").fetchall())
    assert len(published) == 13 * 2 and {str(r[1]) for r in published} == {"2023-04-01", "2024-04-01"}
    assert {(code, start): numerator for code, start, numerator, *_ in published} == counted
    reading = counted[("E06000038", date(2024, 4, 1))]
    table_row = next(line for line in run.stdout.splitlines() if line.startswith("│ Reading "))
    assert f"{reading:,}" in table_row
    # each district's comparison, in words, is the published one for a lower-is-better rate
    with duckdb.connect(str(warehouse / "published" / "vru.duckdb"), read_only=True) as con:
        compared = dict(con.execute("""
            SELECT a.area_name, f.comparison FROM fct_indicator_value AS f JOIN dim_area AS a USING (area_code, area_type)
            WHERE f.indicator_id = 'violence_offences_rate' AND f.area_type = 'lad' AND f.period_type = 'financial_year'
              AND f.period_start = DATE '2024-04-01'""").fetchall())
    words = {"worse": "higher (worse)", "better": "lower (better)", "similar": "similar"}
    for name, comparison in compared.items():
        row = next(line for line in run.stdout.splitlines() if line.startswith(f"│ {name} "))
        assert row.rstrip(" │").endswith(words[comparison]), row
    assert len(set(compared.values())) > 1
    # police beside A&E: the hospitals' data begins in April 2024, and the months before say so
    with duckdb.connect(str(warehouse / "published" / "vru.duckdb"), read_only=True) as con:
        lsoas = con.execute("SELECT count(*) FROM dim_area WHERE area_type = 'lsoa'").fetchone()[0]
        by_year = con.execute("""
            SELECT month_start >= DATE '2024-04-01', count(*), count(police_violence_count),
                   count(*) FILTER (WHERE ae_assault_residence_note = 'not delivered'
                                      AND ae_assault_residence_count IS NULL)
            FROM fct_multi_agency_lsoa_month GROUP BY ALL ORDER BY ALL""").fetchall()
    assert by_year == [(False, 12 * lsoas, 12 * lsoas, 12 * lsoas), (True, 12 * lsoas, 12 * lsoas, 0)]
    assert "financial year 2024/25" in run.stdout and "Rate 2023/24" in run.stdout
    assert "compared with the force by 95% confidence interval" in run.stdout
    assert "rounded to the nearest 5" in run.stdout and "Planted signals" not in run.stdout


# Friday and Saturday nights, 22:00 to 03:59 (ISO day 5 is Friday): 12 of the week's 168 hours
WEEKEND_NIGHTS = [f"{day}-{hour:02d}" for day, hours in ((5, (22, 23)), (6, (0, 1, 2, 3, 22, 23)), (7, (0, 1, 2, 3)))
                  for hour in hours]


def test_the_planted_ae_patterns_are_found_in_the_published_file(demo_run):
    """The demo plants a Friday/Saturday night peak in its ISTV submissions, a night-time economy
    hotspot where injuries happen and assaults concentrated in the young: an analyst finds each
    in the published marts, with hidden counts taken as 0 (so the shares below are floors)."""
    warehouse, run = demo_run
    night_time = run.stdout.split("night-time economy hotspot in LSOA")[1].split()[0]
    with duckdb.connect(str(warehouse / "published" / "vru.duckdb"), read_only=True) as con:
        where_injured = con.execute("""
            SELECT area_code FROM fct_indicator_value
            WHERE indicator_id = 'ae_assault_place_rate' AND area_type = 'lsoa' AND period_type = 'rolling_12_months'
            ORDER BY numerator DESC NULLS LAST LIMIT 1""").fetchone()[0]
        quarters = con.execute("""
            SELECT period_start,
                   coalesce(sum(attendances) FILTER (WHERE dimension = 'hour_day' AND category IN (SELECT unnest(?))), 0),
                   any_value(attendances) FILTER (WHERE dimension = 'all')
            FROM fct_ae_assault_profile WHERE area_type = 'pfa' AND period_type = 'quarter'
            GROUP BY ALL""", [WEEKEND_NIGHTS]).fetchall()
        busiest = con.execute("""
            SELECT category FROM fct_ae_assault_profile
            WHERE area_type = 'pfa' AND period_type = 'quarter' AND dimension = 'hour_day'
            ORDER BY attendances DESC NULLS LAST LIMIT 5""").fetchall()
        u25_sharp, all_assault, population, rate, rate_10_24 = con.execute("""
            SELECT max(numerator) FILTER (WHERE indicator_id = 'ae_sharp_assault_u25_rate'),
                   max(numerator) FILTER (WHERE indicator_id = 'ae_assault_rate'),
                   max(denominator) FILTER (WHERE indicator_id = 'ae_assault_rate'),
                   max(value) FILTER (WHERE indicator_id = 'ae_assault_rate'),
                   max(value) FILTER (WHERE indicator_id = 'ae_assault_10_24_rate')
            FROM fct_indicator_value
            WHERE area_type = 'pfa' AND period_type = 'rolling_12_months'""").fetchone()
    assert where_injured == night_time      # the LSOA where most hospital-treated assaults happened
    assert len(quarters) >= 3
    for _, weekend_nights, total in quarters:
        assert weekend_nights >= 0.3 * total     # 12 of 168 hours: about 7% if assaults were spread evenly
    assert all(category in WEEKEND_NIGHTS + ["5-21", "6-21"] for (category,) in busiest)
    assert 2_000 < all_assault < 3_500 and 50 < all_assault / population * 100_000 < 200
    assert u25_sharp >= 0.05 * all_assault and rate_10_24 > 1.4 * rate   # the young are assaulted most


KNIFE_SV_CODES = ["2", "3B", "5D", "8N", "8P", "34A", "34B", "19C", "19D", "19E", "19F", "19G", "19H",
                  "17A", "17B", "20A", "20B"]   # the Home Office's selected offences, homicide excluded


def test_knife_serious_violence_from_the_demo_force_extract(demo_run):
    """Counted independently from the generated extract files with DuckDB's CSV reader: the force
    area's count is every crime the force recorded, geocoded to an LSOA or not (force totals)."""
    warehouse, run = demo_run
    extracts = warehouse / "landing" / "demo" / "force_crime" / "thames-valley" / "*.csv"   # April 2024 – March 2025
    with duckdb.connect() as con:
        counted = con.execute(f"""
            SELECT count(*), count(*) FILTER (TRY_CAST("Victim Age" AS INTEGER) < 25)
            FROM read_csv('{extracts}', all_varchar = true)
            WHERE "Knife Or Sharp Instrument" = 'Y' AND "Home Office Code" IN (SELECT unnest(?))""",
            [KNIFE_SV_CODES]).fetchone()
    with duckdb.connect(str(warehouse / "published" / "vru.duckdb"), read_only=True) as con:
        got = dict(con.execute("""
            SELECT indicator_id, (numerator, denominator, value) FROM fct_indicator_value
            WHERE indicator_id LIKE 'knife%' AND area_type = 'pfa' AND period_type = 'financial_year'""").fetchall())
    for indicator, events in zip(["knife_serious_violence_rate", "knife_serious_violence_u25_rate"], counted, strict=True):
        numerator, denominator, value = got[indicator]
        assert numerator == round(events / 5) * 5             # published counts are rounded to 5
        # the value is the published count's: the true count's, times the published
        # denominator, would give the true count back (test_disclosure_attack.py)
        assert value == pytest.approx(numerator / denominator * 100_000)
    assert 30 < got["knife_serious_violence_rate"][2] < 100   # per 100,000 a year: England's range
    assert ("Knife-enabled serious violence against under-25s per 100,000 aged under 25, Thames Valley, "
            "financial year 2024/25") in run.stdout


def test_demo_stop_and_search_is_placed_by_map_point_where_street_crimes_share_it(demo_run):
    warehouse, _ = demo_run
    police = warehouse / "landing" / "demo" / "police"
    # counted from the files: searches with coordinates, and those on a street crime's map point
    # (the demo's street map points each lie in one LSOA)
    with duckdb.connect() as con:
        located, on_map_point = con.execute(f"""
            WITH search AS (SELECT Latitude, Longitude FROM read_csv('{police}/*/*-stop-and-search.csv')
                            WHERE Latitude IS NOT NULL),
                 point AS (SELECT DISTINCT Latitude, Longitude FROM read_csv('{police}/*/*-street.csv')
                           WHERE Latitude IS NOT NULL)
            SELECT count(*), count(*) FILTER (WHERE (Latitude, Longitude) IN (SELECT (Latitude, Longitude) FROM point))
            FROM search""").fetchone()
    with duckdb.connect(str(warehouse / "published" / "vru.duckdb"), read_only=True) as con:
        by_force = con.execute("SELECT sum(searches_with_location), sum(searches_placed_in_lsoa) "
                               "FROM fct_stop_search_force_month").fetchone()
        by_lsoa = con.execute("SELECT sum(searches), sum(searches_placed_by_map_point) "
                              "FROM fct_stop_search_lsoa_month").fetchone()
    # every demo search with coordinates lies within a few km of an LSOA centroid
    assert by_force == (located, located) and by_lsoa == (located, on_map_point)
    assert 0.5 < on_map_point / located < 0.8


def test_rerunning_the_demo_changes_nothing(demo_run):
    warehouse, _ = demo_run
    published = warehouse / "published" / "vru.duckdb"
    before = published_digest(published)
    again = run_vru(["demo"], warehouse)
    assert again.returncode == 0, again.stdout[-3000:]
    assert published_digest(published) == before
    with duckdb.connect(str(warehouse / "vru.duckdb"), read_only=True) as con:
        outcomes = dict(con.execute("SELECT outcome, count(*) FROM raw.load_manifest GROUP BY ALL").fetchall())
    # 24 street files, 24 stop-and-search files, 12 force extracts, 5 lookups, centroids,
    # population, IMD: once each; each A&E submission once, in its latest revision (a corrected
    # one's original is never loaded beside it, so nothing is superseded either)
    submissions = {re.sub(r"-r\d+(?=\.csv$)", "", p.name) for p in (warehouse / "landing" / "demo" / "ae").rglob("*.csv")}
    assert len(submissions) > 100
    # and the DfE release's four files (exclusions by authority and by school, by reason, register)
    dfe = sorted(p.name for p in (warehouse / "landing" / "demo" / "dfe").rglob("*.csv"))
    assert dfe == ["edubase_schools.csv", "exc_nat_region_la.csv", "exc_reason_la.csv", "exc_school.csv"]
    assert outcomes == {"loaded": 24 + 24 + 12 + 5 + 1 + 1 + 1 + len(submissions) + len(dfe)}


def test_status_reports_the_loads(demo_run):
    warehouse, _ = demo_run
    status = run_vru(["status"], warehouse)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "police_street" in status.stdout and "raw_police_street" in status.stdout
    assert "passed" in status.stdout


def test_a_failing_step_fails_the_dag_with_file_row_and_rule(tmp_path):
    """Through Airflow: a malformed delivery fails ingest, nothing downstream runs or publishes."""
    from ingestion.settings import Settings
    from vru_airflow.runner import run_dag_test

    landing = write_mini_reference(tmp_path / "landing")
    path = write_street(landing / "police", "2025-01", [(MINI_LSOAS[0][:2], VIOLENCE, 3)])
    path.write_text(path.read_text().replace(",2025-01,", ",January,", 1))
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    outcome = run_dag_test("vru_pipeline", {"landing_dir": str(landing)}, settings)
    assert not outcome.succeeded
    assert outcome.task_states["ingest_police_street"] == "failed"
    assert "publish" not in outcome.task_states or outcome.task_states["publish"] != "success"
    message = "\n".join(outcome.error_lines)
    assert "2025-01-thames-valley-street.csv, row 1: rule 'month_format'" in message
    assert not settings.published_db.exists()
