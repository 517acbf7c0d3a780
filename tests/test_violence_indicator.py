"""The violence indicator end to end through dbt, on a fixture small enough to count by hand.

Fixture (tests/conftest.py): Reading LSOAs A (pop 1,500) and B (2,000), Slough LSOAs C (1,800)
and D (2,200), all in Thames Valley PFA (7,500).
  2025-01  A: 12 violence, 2 ASB, 1 robbery   B: 3 violence   C: 4 robbery   D: 21 violence
           plus 1 violence record with no location: counted in the force area's total (37),
           in no smaller area
  2025-02  A: 10 violence (and nothing elsewhere: every other LSOA counts 0)
  2025-03  a file with LSOA 2011 codes: 7 violence in E01190001 (split into A, population 1,500,
           and B, 2,000) and 2 in E01090004 (= D, unchanged), one of them repeated identically

Expected values were worked out by hand from the published methods (PHEindicatormethods):
  rate = O / n × 1000
  Byar (O ≥ 10): lower = O(1 − 1/(9O) − z/(3√O))³, upper = (O+1)(1 − 1/(9(O+1)) + z/(3√(O+1)))³,
                 z = 1.959964, each divided by n and × 1000
  exact (O < 10): chi²(0.025; 2O)/2 and chi²(0.975; 2O+2)/2 from statistical tables
                 (O=3: 1.0899 and 8.7673; O=0: 0 and 3.6889), divided by n and × 1000.
  e.g. A: O=12, n=1,500: 1 − 1/108 − 1.959964/(3·3.464102) = 0.802142; 0.802142³ = 0.516115;
          12 × 0.516115 / 1.5 = 4.1290.  Upper: 1 − 1/117 + 1.959964/(3·3.605551) = 1.172654;
          1.172654³ = 1.612530; 13 × 1.612530 / 1.5 = 13.9752.
"""

from __future__ import annotations

import math

import duckdb
import pytest

from conftest import MINI_LSOAS, crime_id, private_warehouse, write_mini_reference
from test_police_street_load import ASB, ROBBERY, VIOLENCE, write_street

A, B, C, D = (lsoa[:2] for lsoa in MINI_LSOAS)
JAN, FEB = "2025-01-01", "2025-02-01"

# Stop-and-search points (latitude, longitude) in January, besides two at (51.45, -0.97) that are
# nearest A's centroid (0.89 km; B's is 1.77 km) and one with no coordinates. MAP_POINT_D is the
# map point of a bicycle theft in D, though C's centroid is nearer (0.23 km against D's 2.04 km).
MAP_POINT_D = (51.508, -0.599)
SEARCH_POINTS = {"map point": MAP_POINT_D, "14 km out": (51.60, -0.75), "32 km out": (51.80, -0.75),
                 "zero": (0, 0)}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("indicator")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.publish import publish
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        write_street(landing / "police", "2025-01", [
            (A, VIOLENCE, 12), (A, ASB, 2), (A, ROBBERY, 1), (B, VIOLENCE, 3),
            (C, ROBBERY, 4), (D, VIOLENCE, 21), (None, VIOLENCE, 1)])
        january = landing / "police" / "2025-01" / "2025-01-thames-valley-street.csv"
        with january.open("a") as street:        # one crime on a map point of its own, in D
            street.write(f"{crime_id('2025-01', 99)},2025-01,Thames Valley Police,Thames Valley Police,"
                         f"{MAP_POINT_D[1]},{MAP_POINT_D[0]},On or near X,{D[0]},{D[1]},Bicycle theft,,\n")
        write_street(landing / "police", "2025-02", [(A, VIOLENCE, 10)])
        march = write_street(landing / "police", "2025-03", [
            (("E01190001", "Reading 001X"), VIOLENCE, 7), (D, VIOLENCE, 2)])
        lines = march.read_text().splitlines(keepends=True)
        march.write_text("".join(lines + [lines[-1]]))     # police.uk repeats some rows whole
        (landing / "police" / "2025-01" / "2025-01-thames-valley-stop-and-search.csv").write_text(
            "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,Age range,"
            "Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,Outcome,"
            "Outcome linked to object of search,Removal of more than just outer clothing\n"
            + ("Person search,2025-01-05T10:00:00+00:00,False,,51.45,-0.97,Male,18-24,,White,s1,"
               "Offensive weapons,Arrest,True,False\n") * 2
            + "Vehicle search,2025-01-31T23:30:00+00:00,False,,,,,,,,s23,Controlled drugs,Arrest,False,False\n"
            + "".join(f"Person search,2025-01-06T10:00:00+00:00,False,,{lat},{lon},Male,18-24,,White,s1,"
                      "Offensive weapons,Nothing found - no further action,False,False\n"
                      for lat, lon in SEARCH_POINTS.values()))
        # outcomes (recorded in February) for January's crimes in A, Crime IDs 1–4: three charged
        outcomes = landing / "police" / "2025-02" / "2025-02-thames-valley-outcomes.csv"
        outcomes.write_text(
            "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Outcome type\n"
            + "".join(f"{crime_id('2025-01', n)},2025-02,Thames Valley Police,Thames Valley Police,-0.97,51.45,On or near X,"
                      f"{A[0]},{A[1]},{kind}\n" for n, kind in [
                          (1, "Suspect charged"), (2, "Suspect charged"), (3, "Offender sent to prison"),
                          (4, "Investigation complete; no suspect identified")]))
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build"])
        pipeline.check_marts()
        published = publish()
        yield get_settings().working_db, published


@pytest.fixture
def db(warehouse):
    con = duckdb.connect(str(warehouse[0]), read_only=True)
    yield con
    con.close()


def value_row(db, area, month=JAN, table="marts.fct_indicator_value"):
    return db.execute(
        f"SELECT numerator, denominator, value, lower_ci_95, upper_ci_95 FROM {table} "
        "WHERE indicator_id = 'violence_offences_rate' AND area_code = ? AND period_start = ? "
        "AND period_type = 'month' AND area_type <> 'utla'",
        [area, month]).fetchone()


def test_crime_counts_per_lsoa_and_type_are_the_hand_counts(db):
    got = db.execute("""SELECT lsoa21_code, strftime(month_start, '%Y-%m'), crime_type, round(crime_count, 9)
                        FROM marts.fct_police_crime_lsoa_month""").fetchall()
    assert sorted(got) == sorted([
        (A[0], "2025-01", VIOLENCE, 12), (A[0], "2025-01", ASB, 2), (A[0], "2025-01", ROBBERY, 1),
        (B[0], "2025-01", VIOLENCE, 3), (C[0], "2025-01", ROBBERY, 4), (D[0], "2025-01", VIOLENCE, 21),
        (D[0], "2025-01", "Bicycle theft", 1),
        (A[0], "2025-02", VIOLENCE, 10),
        # March, 2011 codes: 7 × 1500/3500 = 3 to A, 7 × 2000/3500 = 4 to B; D's repeated row once
        (A[0], "2025-03", VIOLENCE, 3), (B[0], "2025-03", VIOLENCE, 4), (D[0], "2025-03", VIOLENCE, 2)])


def test_lsoa_rate_and_byar_ci_match_hand_worked_values(db):
    numerator, denominator, value, low, high = value_row(db, A[0])
    assert (numerator, denominator) == (12, 1500)
    assert value == pytest.approx(8.0, abs=1e-9)
    assert low == pytest.approx(4.1290, abs=5e-5)
    assert high == pytest.approx(13.9752, abs=5e-5)


def test_exact_poisson_ci_below_ten_events(db):
    # B: O = 3, n = 2,000 → 1.5 per 1,000; limits 1.0899/2 = 0.3093 (table: chi²(0.025; 6)/2 = 0.6187,
    # per 1,000 of 2,000 → 0.3093) and 8.7673/2 = 4.3836. C: O = 0 → 0 and 3.6889/1.8 = 2.0494.
    _, _, value, low, high = value_row(db, B[0], table="intermediate.int_indicator__value")
    assert (value, round(low, 4), round(high, 4)) == (1.5, 0.3093, 4.3836)
    _, _, value, low, high = value_row(db, C[0], table="intermediate.int_indicator__value")
    assert (value, low, round(high, 4)) == (0.0, 0.0, 2.0494)


def test_counts_below_ten_are_published_without_rate_or_ci(db):
    rows = db.execute("""SELECT area_code, numerator, value, lower_ci_95, upper_ci_95, is_suppressed,
                                suppression_reason LIKE 'numerator below 10%'
                         FROM marts.fct_indicator_value WHERE period_start = ? AND area_code IN (?, ?)
                         AND period_type = 'month' AND indicator_id = 'violence_offences_rate'
                         ORDER BY area_code""", [JAN, B[0], C[0]]).fetchall()
    assert rows == [(B[0], 3, None, None, None, True, True), (C[0], 0, None, None, None, True, True)]


def test_lad_and_pfa_values_sum_lsoas_not_average_rates(db):
    # Reading = A + B: 15 / 3,500; Slough = C + D: 21 / 4,000; PFA: the 36 located records plus
    # the one with no location (force totals count every record): 37 / 7,500 = 4.9333 per 1,000,
    # Byar 37: (1 − 1/333 − 1.959964/(3·√37))³ · 37 / 7.5 = 3.4731, upper (38 …) = 6.8001;
    # whereas the mean of the four LSOA rates would be (8 + 1.5 + 0 + 9.5455) / 4 = 4.7614.
    assert value_row(db, "E06000038")[:3] == (15, 3500, pytest.approx(4.285714, abs=1e-6))
    numerator, denominator, value, low, high = value_row(db, "E06000039")
    assert (numerator, denominator, round(value, 4), round(low, 4), round(high, 4)) == (21, 4000, 5.25, 3.2486, 8.0256)
    numerator, denominator, value, low, high = value_row(db, "E23000029")
    assert (numerator, denominator, value) == (37, 7500, pytest.approx(37 / 7.5))
    assert (round(low, 4), round(high, 4)) == (3.4731, 6.8001)
    assert value != pytest.approx((8.0 + 1.5 + 0.0 + 21 / 2.2) / 4, abs=1e-3)
    # the CSP of each LAD here is coterminous with it
    assert value_row(db, "E22000309")[:2] == (15, 3500)


def test_duplicates_counted_at_load_and_collapsed(warehouse, db):
    assert db.execute("""SELECT rows_read, rows_loaded, rows_duplicate FROM raw.load_manifest
                         WHERE source_file = '2025-03-thames-valley-street.csv'""").fetchone() == (10, 10, 1)
    assert db.execute("""SELECT count(*) FROM staging.stg_police__street
                         WHERE source_file = '2025-03-thames-valley-street.csv'""").fetchone()[0] == 9


def test_months_with_no_crimes_count_zero_for_every_lsoa(db):
    feb = db.execute("""SELECT area_code, numerator FROM marts.fct_indicator_value
                        WHERE period_start = ? AND area_type = 'lsoa' AND period_type = 'month'
                        AND indicator_id = 'violence_offences_rate' ORDER BY 1""", [FEB]).fetchall()
    assert feb == [(A[0], 10), (B[0], 0), (C[0], 0), (D[0], 0)]


def test_comparison_with_the_force_area_by_confidence_interval(db):
    # D: 21 / 2,200 = 9.5455, CI 5.9065–14.5919 lies wholly above the PFA's 4.9333 → worse
    # (lower is better); A: CI 4.1290–13.9752 contains 4.9333 → similar.
    rows = dict(db.execute("""SELECT area_code, comparison FROM marts.fct_indicator_value
                              WHERE period_start = ? AND comparator_area_code = 'E23000029' AND period_type = 'month'
                              AND indicator_id = 'violence_offences_rate'""", [JAN]).fetchall())
    assert rows[D[0]] == "worse" and rows[A[0]] == "similar" and rows[B[0]] == "not compared"


def test_published_copy_opens_read_only_while_the_working_file_is_being_written(warehouse):
    import subprocess
    import sys

    working, published = warehouse
    # another process holds the working warehouse read-write, as the pipeline does while it runs
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                                "con.execute('CREATE OR REPLACE TABLE raw.busy AS SELECT 1'); print('ready', flush=True); "
                                "time.sleep(30)"), str(working)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(duckdb.IOException):          # what users would meet on the working file
            duckdb.connect(str(working), read_only=True)
        with duckdb.connect(str(published), read_only=True) as reader:
            tables = {r[0] for r in reader.execute("SHOW TABLES").fetchall()}
            assert {"fct_indicator_value", "dim_area", "dim_period", "dim_indicator",
                    "fct_police_crime_lsoa_month", "load_manifest", "check_result"} <= tables
            # 3 months × (4 LSOAs + 2 MSOAs + 2 LADs + 2 upper tiers + 2 CSPs + 1 PFA) × 3 police indicators
            assert reader.execute("SELECT count(*) FROM fct_indicator_value WHERE period_type = 'month' "
                                  "AND indicator_id LIKE '%_rate'").fetchone()[0] == 3 * 13 * 3
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture(scope="session")
def duckdb_14_python():
    """A Python with DuckDB 1.4, the version BI drivers (e.g. Superset's duckdb extra) still pin."""
    import subprocess
    import sys
    from pathlib import Path

    venv = Path.home() / ".cache" / "vru-tests" / "duckdb-1.4"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = subprocess.run([str(python), "-m", "pip", "install", "-q", "duckdb~=1.4.0"],
                                 capture_output=True, text=True, check=False)
        if install.returncode != 0:
            pytest.skip(f"could not install duckdb 1.4 from the package registry: {install.stderr[-300:]}")
    return python


def test_published_file_opens_in_duckdb_1_4(warehouse, duckdb_14_python):
    import subprocess

    script = ("import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
              "print(duckdb.__version__, int(con.execute('SELECT sum(numerator) FROM fct_indicator_value "
              "WHERE area_type = \\'pfa\\' AND period_type = \\'month\\' "
              "AND indicator_id = \\'violence_offences_rate\\'').fetchone()[0]), "
              "int(con.execute('SELECT sum(numerator) FROM indicator_value_by_area_code "
              "WHERE area_code = \\'E06000038\\' AND period_type = \\'month\\' "
              "AND indicator_id = \\'violence_offences_rate\\'').fetchone()[0]))")
    done = subprocess.run([str(duckdb_14_python), "-c", script, str(warehouse[1])],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    version, pfa_total, reading_total = done.stdout.split()
    assert version.startswith("1.4.") and pfa_total == "56"   # 37 in January (one unlocated), 10 in February, 9 in March
    # the view over the published tables works in 1.4 too, and counts unitary Reading (a district
    # and an upper tier under one code) once: January A 12 + B 3, February A 10, March 7 in the
    # split 2011 LSOA, all of it in A and B (64 if both area types were summed)
    assert reading_total == "32"


def test_share_charged_joins_outcomes_by_crime_id_with_wilson_ci(db):
    # A, January: 12 violence crimes, outcomes files charge 3 of them (two "Suspect charged", one
    # court outcome). 3/12 = 25%; Wilson limits from scipy, an independent implementation.
    from scipy.stats import binomtest

    numerator, denominator, value, low, high = db.execute("""
        SELECT numerator, denominator, value, lower_ci_95, upper_ci_95 FROM marts.fct_indicator_value
        WHERE indicator_id = 'violence_charged_share' AND area_code = ? AND period_type = 'month'
          AND period_start = ?""", [A[0], JAN]).fetchone()
    ci = binomtest(3, 12).proportion_ci(confidence_level=0.95, method="wilson")
    assert (numerator, denominator, value) == (3, 12, 25.0)
    assert low == pytest.approx(ci.low * 100, rel=5e-7) and high == pytest.approx(ci.high * 100, rel=5e-7)
    # a quarter adds the months' crimes: Q1 in A = 3 charged of 12 + 10 + 3 = 25 crimes → 12%
    assert db.execute("""SELECT numerator, denominator, value FROM marts.fct_indicator_value
                         WHERE indicator_id = 'violence_charged_share' AND area_code = ? AND period_type = 'quarter'
                           AND period_start = ?""", [A[0], JAN]).fetchone() == (3, 25, 12.0)


def test_stop_and_search_by_force_month_object_and_outcome(db):
    assert sorted(db.execute("""SELECT force_slug, strftime(month_start, '%Y-%m'), object_of_search, outcome, searches,
                                       searches_outcome_linked_to_object, searches_with_location, searches_placed_in_lsoa
                                FROM marts.fct_stop_search_force_month""").fetchall()) == [
        ("thames-valley", "2025-01", "Controlled drugs", "Arrest", 1, 0, 0, 0),
        ("thames-valley", "2025-01", "Offensive weapons", "Arrest", 2, 2, 2, 2),
        # 0,0 is not a location; the search 32 km from any centroid is beyond the 15 km cap
        ("thames-valley", "2025-01", "Offensive weapons", "Nothing found - no further action", 4, 0, 3, 2)]


def haversine_km(a, b):
    from math import asin, cos, radians, sin, sqrt

    (lat1, lon1), (lat2, lon2) = ((radians(p[0]), radians(p[1])) for p in (a, b))
    h = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * asin(sqrt(h))


def test_stop_and_search_placed_by_map_point_else_nearest_centroid(db):
    from conftest import MINI_CENTROIDS

    assert sorted(db.execute("""SELECT lsoa21_code, strftime(month_start, '%Y-%m'), outcome, searches,
                                       searches_placed_by_map_point
                                FROM marts.fct_stop_search_lsoa_month""").fetchall()) == [
        (A[0], "2025-01", "Arrest", 2, 0),
        (C[0], "2025-01", "Nothing found - no further action", 1, 0),   # 14 km out: only the wide search finds it
        (D[0], "2025-01", "Nothing found - no further action", 1, 1)]   # the map point wins over C's centroid
    # an independent brute-force nearest centroid by great-circle distance
    nearest = {name: min((haversine_km(point, c), code) for code, c in MINI_CENTROIDS.items())
               for name, point in SEARCH_POINTS.items() if name != "zero"}
    assert nearest["map point"][1] == C[0] and nearest["14 km out"][1] == C[0] and nearest["32 km out"][0] > 15
    placed = dict(db.execute("""SELECT latitude, centroid_distance_km FROM intermediate.int_police__stop_search_lsoa21
                                WHERE lsoa_placement = 'nearest_centroid' AND latitude > 51.5""").fetchall())
    assert placed == {51.60: pytest.approx(nearest["14 km out"][0], rel=2e-3)}


def test_marts_built_after_their_last_check_are_not_published(warehouse):
    """A build (or a build killed midway) after the last marts check leaves marts nobody checked:
    publish refuses them until `vru check` has run again."""
    from ingestion import pipeline
    from ingestion.publish import PublishRefused, publish
    from ingestion.transform import run_dbt

    working, published = warehouse
    before = published.read_bytes()
    run_dbt(["run", "--select", "dim_period"])
    with pytest.raises(PublishRefused, match=r"after their last check .*run `vru check` first"):
        publish()
    assert published.read_bytes() == before
    pipeline.check_marts()
    assert publish() == published


def _byar_upper(e: float, z: float) -> float:
    return (e + 1) * (1 - 1 / (9 * (e + 1)) + z / (3 * math.sqrt(e + 1))) ** 3


def _byar_lower(e: float, z: float) -> float:
    return e * (1 - 1 / (9 * e) - z / (3 * math.sqrt(e))) ** 3


def _wilson(x: float, n: float, z: float, sign: int) -> float:
    return (2 * x + z * z + sign * z * math.sqrt(z * z + 4 * x * (1 - x / n))) / (2 * (n + z * z))


LEVELS = [(0.95, "95"), (0.998, "998")]


def _exact_line_count(expected: float, level: float, side: str) -> float:
    """PHEindicatormethods' control line (calculate_funnel_limits, poisson_funnel) at expected count
    λ: the count O whose exact limit is λ, the lower line where χ²⁻¹(1−α, 2O+2)/2 = λ and the upper
    where χ²⁻¹(α, 2O)/2 = λ (α the tail), solved by brentq on scipy's chi-squared quantile."""
    from scipy.optimize import brentq
    from scipy.stats import chi2

    alpha = (1 - level) / 2
    if side == "lower":
        if expected <= chi2.ppf(1 - alpha, 2) / 2:  # no count is low enough: the line is at 0
            return 0.0
        return brentq(lambda o: chi2.ppf(1 - alpha, 2 * o + 2) / 2 - expected, 0, expected, xtol=1e-14, rtol=1e-15)
    return brentq(lambda o: chi2.ppf(alpha, 2 * o) / 2 - expected, 1e-9, 10 * expected + 50, xtol=1e-14, rtol=1e-15)


def test_funnel_limits_and_significance_beside_each_rate(db):
    # January, around Thames Valley's 37 / 7,500 = 4.9333 per 1,000. At an area of n people the
    # expected count is λ = 37n / 7,500; the lines are PHE's exact Poisson ones through that λ
    # (_exact_line_count), each as a rate O / n × 1,000.
    from scipy.stats import norm

    columns = ", ".join(f"funnel_lower_{s}, funnel_upper_{s}" for _, s in LEVELS)
    got = {r[0]: r[1:] for r in db.execute(f"""
        SELECT area_code, {columns}, funnel_significance FROM marts.fct_indicator_value
        WHERE indicator_id = 'violence_offences_rate' AND period_type = 'month' AND period_start = ?
          AND area_type = 'lsoa'""", [JAN]).fetchall()}
    for (code, _), n, count in [(A, 1500, 12), (D, 2200, 21)]:
        expected = 37 / 7500 * n
        limits = []
        for level, _ in LEVELS:
            limits += [_exact_line_count(expected, level, side) / n * 1000 for side in ("lower", "upper")]
        assert got[code][:4] == pytest.approx(limits, rel=1e-9), code
        # significance: the area's own Byar limits at 99.8% and 95% against 4.9333
        z95, z998 = norm.ppf(0.975), norm.ppf(0.999)
        comparator, rate = 37 / 7.5, count / n * 1000
        lower_998, lower_95 = (_byar_lower(count, z) / n * 1000 for z in (z998, z95))
        upper_95 = _byar_upper(count, z95) / n * 1000
        expected_label = ("High (0.001)" if lower_998 > comparator else "High (0.025)" if lower_95 > comparator
                          else "Low (0.025)" if upper_95 < comparator else "Not significant")
        assert got[code][4] == expected_label, code
        # and a value outside a line is exactly a significant one
        assert (rate > got[code][1]) == (lower_95 > comparator)
    assert got[D[0]][4] == "High (0.025)" and got[A[0]][4] == "Not significant"
    # B's 3 crimes are shown without a rate (Fingertips rule): no limits, no significance
    assert got[B[0]] == (None,) * 5


def test_funnel_limits_for_a_proportion_invert_the_wilson_score(db):
    # violence_charged_share, A in January (3 of 12 charged) against Thames Valley's published
    # share p: the lower line is the share x / 12 whose Wilson upper limit is p, the upper line the
    # one whose Wilson lower limit is p (brentq on the Wilson formula), as PHEindicatormethods does
    from scipy.optimize import brentq
    from scipy.stats import norm

    (p,) = db.execute("""SELECT value / 100 FROM marts.fct_indicator_value WHERE indicator_id = 'violence_charged_share'
                         AND area_code = 'E23000029' AND period_type = 'month' AND period_start = ?""", [JAN]).fetchone()
    assert 0 < p < 1
    columns = ", ".join(f"funnel_lower_{s}, funnel_upper_{s}" for _, s in LEVELS)
    got = db.execute(f"""SELECT {columns}, funnel_significance FROM marts.fct_indicator_value
                         WHERE indicator_id = 'violence_charged_share' AND area_code = ? AND period_type = 'month'
                           AND period_start = ?""", [A[0], JAN]).fetchone()
    n, expected = 12, []
    for level, _ in LEVELS:
        z = norm.ppf(1 - (1 - level) / 2)
        low = brentq(lambda x, z=z: _wilson(x, n, z, 1) - p, 0, n * p) if _wilson(0, n, z, 1) < p else 0
        high = brentq(lambda x, z=z: _wilson(x, n, z, -1) - p, n * p, n) if _wilson(n, n, z, -1) > p else n
        expected += [low / n * 100, high / n * 100]
    assert got[:4] == pytest.approx(expected, rel=1e-9)
    # significance: A's own Wilson intervals (scipy) against p
    from scipy.stats import binomtest

    ci95, ci998 = (binomtest(3, n).proportion_ci(confidence_level=c, method="wilson") for c in (0.95, 0.998))
    assert got[4] == ("High (0.001)" if ci998.low > p else "High (0.025)" if ci95.low > p
                      else "Low (0.001)" if ci998.high < p else "Low (0.025)" if ci95.high < p else "Not significant")
