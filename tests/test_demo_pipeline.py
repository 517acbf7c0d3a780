"""The demo end to end through Airflow itself (`vru demo` → `airflow dags test vru_pipeline`)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
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
                 "publish"]:
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
    hotspot = next(line.split("hotspot LSOA ")[1].split()[0] for line in run.stdout.splitlines()
                   if "hotspot LSOA" in line)
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
            WHERE area_code = ? AND period_type IN ('calendar_year', 'rolling_12_months')
              AND indicator_id = 'violence_offences_rate'""", [hotspot]).fetchall()
    assert annual[0][0] == hotspot and annual[0][1] > 3 * force
    assert worse_months >= 10          # significantly worse than Thames Valley in most months
    assert peak == "07"
    # the 12 months Jan–Dec 2025, as a calendar year and as the (single complete) rolling year
    assert [c for _, c in calendar_year] == ["worse", "worse"]


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
    extracts = warehouse / "landing" / "demo" / "force_crime" / "thames-valley" / "*.csv"
    with duckdb.connect() as con:
        counted = con.execute(f"""
            SELECT count(*), count(*) FILTER (TRY_CAST("Victim Age" AS INTEGER) < 25)
            FROM read_csv('{extracts}', all_varchar = true)
            WHERE "Knife Or Sharp Instrument" = 'Y' AND "Home Office Code" IN (SELECT unnest(?))""",
            [KNIFE_SV_CODES]).fetchone()
    with duckdb.connect(str(warehouse / "published" / "vru.duckdb"), read_only=True) as con:
        got = dict(con.execute("""
            SELECT indicator_id, (numerator, denominator, value) FROM fct_indicator_value
            WHERE indicator_id LIKE 'knife%' AND area_type = 'pfa' AND period_type = 'calendar_year'""").fetchall())
    for indicator, events in zip(["knife_serious_violence_rate", "knife_serious_violence_u25_rate"], counted, strict=True):
        numerator, denominator, value = got[indicator]
        assert numerator == round(events / 5) * 5             # published counts are rounded to 5
        # the value is the published count's: the true count's, times the published
        # denominator, would give the true count back (test_disclosure_attack.py)
        assert value == pytest.approx(numerator / denominator * 100_000)
    assert 30 < got["knife_serious_violence_rate"][2] < 100   # per 100,000 a year: England's range
    assert "Knife-enabled serious violence, under 25, Thames Valley" in run.stdout


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
    # 12 street files, 12 stop-and-search files, 12 force extracts, 5 lookups, centroids,
    # population, IMD: once each; each A&E submission once, in its latest revision (a corrected
    # one's original is never loaded beside it, so nothing is superseded either)
    submissions = {re.sub(r"-r\d+(?=\.csv$)", "", p.name) for p in (warehouse / "landing" / "demo" / "ae").rglob("*.csv")}
    assert len(submissions) > 100
    # and the DfE release's four files (exclusions by authority and by school, by reason, register)
    dfe = sorted(p.name for p in (warehouse / "landing" / "demo" / "dfe").rglob("*.csv"))
    assert dfe == ["edubase_schools.csv", "exc_nat_region_la.csv", "exc_reason_la.csv", "exc_school.csv"]
    assert outcomes == {"loaded": 12 + 12 + 12 + 5 + 1 + 1 + 1 + len(submissions) + len(dfe)}


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
