"""Incremental dbt builds: a new or re-delivered month rebuilds only the periods it can move, and
the result is identical to rebuilding everything from scratch; reference changes rebuild all."""

from __future__ import annotations

import json

import duckdb
import pytest

from conftest import MINI_LSOAS, crime_id, write_mini_reference
from test_police_street_load import ROBBERY, VIOLENCE, write_street

A, B, C, D = (lsoa[:2] for lsoa in MINI_LSOAS)
# the models built incrementally, and the marts
TABLES = ["intermediate.int_police__street_lsoa21", "intermediate.int_police__crime_lsoa_month",
          "intermediate.int_indicator__lsoa_month", "intermediate.int_indicator__value",
          "intermediate.int_indicator__disclosed", "marts.fct_indicator_value", "marts.fct_indicator_trend",
          "marts.fct_police_crime_lsoa_month", "intermediate.int_population__lsoa_year",
          "intermediate.int_population__lsoa_esp_band", "intermediate.int_indicator__imd_quantile_count",
          "intermediate.int_indicator__imd_quantile",
          "marts.fct_indicator_imd_quantile", "marts.fct_indicator_inequality", "marts.fct_multi_agency_lsoa_month"]


def double_population(path, lsoa21_code: str) -> None:
    """A new estimate in the published layout: the LSOA's every count (the total and each age) doubled."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        cells = line.split(",")
        if cells[2] == lsoa21_code:
            lines[i] = ",".join(cells[:4] + [str(2 * int(c)) for c in cells[4:]])
    path.write_text("\n".join(lines) + "\n")


def snapshot(db_path) -> dict[str, list[tuple]]:
    """Every row of every table, floats to 9 significant figures (sums may add in another order)."""
    def norm(v):
        return float(f"{v:.9g}") if isinstance(v, float) else v

    with duckdb.connect(str(db_path), read_only=True) as con:
        return {t: [tuple(map(norm, r)) for r in con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()]
                for t in TABLES}


def refresh_scope(db_path):
    with duckdb.connect(str(db_path), read_only=True) as con:
        # the street months rebuilt, and whether everything was
        months = con.execute("""SELECT strftime(period_start, '%Y-%m'), rebuild_all
                                FROM intermediate.int_refresh__source_period, intermediate.int_refresh__scope
                                WHERE raw_table = 'raw.police_street' ORDER BY ALL""").fetchall()
        # the reporting periods rebuilt (of the street-counted indicators: all have the same)
        periods = con.execute("""SELECT DISTINCT period_type, strftime(period_start, '%Y-%m')
                                 FROM intermediate.int_refresh__period ORDER BY ALL""").fetchall()
    return months, periods


def write_outcomes(police, month, crimes):
    path = police / month / f"{month}-thames-valley-outcomes.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Outcome type\n"
        + "".join(f"{crime_id(m, n)},{month},Thames Valley Police,Thames Valley Police,-0.97,51.45,On or near X,"
                  f"{A[0]},{A[1]},Suspect charged\n" for m, n in crimes))


@pytest.fixture
def pipeline_env(warehouse_env, tmp_path):
    from ingestion import pipeline, transform

    landing = write_mini_reference(tmp_path / "landing")
    police = landing / "police"

    def deliver_and_build(month=None, full_refresh=False):
        """As `vru refresh` runs it: an incremental build selects only what the changed deliveries
        reach (build_state.build_selection), so each comparison with a full rebuild covers that too."""
        if month:
            pipeline.ingest_police_street(police, month=month)
        pipeline.check_raw()
        transform.build(full_refresh=full_refresh)
        return pipeline.check_marts()

    pipeline.load_reference(landing)
    return warehouse_env.working_db, landing, police, deliver_and_build


def test_a_new_month_rebuilds_its_periods_and_matches_a_full_rebuild(pipeline_env):
    db, landing, police, deliver_and_build = pipeline_env
    write_street(police, "2025-01", [(A, VIOLENCE, 12), (B, VIOLENCE, 3), (C, ROBBERY, 4), (D, VIOLENCE, 21)])
    write_street(police, "2025-02", [(A, VIOLENCE, 10), (D, ROBBERY, 2)])
    deliver_and_build("2025-01")
    deliver_and_build("2025-02")
    assert refresh_scope(db)[0] == [("2025-02", False)]

    # March arrives (LSOA 2011 codes) with outcomes for two January crimes
    write_street(police, "2025-03", [(("E01190001", "Reading 001X"), VIOLENCE, 7), (D, VIOLENCE, 2)])
    write_outcomes(police, "2025-03", [("2025-01", 1), ("2025-01", 2)])
    checked = deliver_and_build("2025-03")
    months, periods = refresh_scope(db)
    assert months == [("2025-03", False)]
    # only what street files and outcomes reach was built: not the areas, nor the A&E models
    run_results = json.loads((db.parent / "dbt_target" / "run_results.json").read_text())
    built = {r["unique_id"] for r in run_results["results"]}
    assert {"model.vru.int_police__street_lsoa21", "model.vru.int_police__crime_outcome_lsoa_month",
            "model.vru.fct_indicator_value", "model.vru.fct_source_coverage", "model.vru.int_refresh__scope"} <= built
    assert not built & {"model.vru.dim_area", "model.vru.int_ae__assault_lsoa_month", "model.vru.int_population__lsoa_year"}
    with duckdb.connect(str(db), read_only=True) as con:   # outcomes revise past months of the share
        # (and of nothing else: the knife indicators are counted from force extracts, which did not change)
        assert con.execute("SELECT indicator_id FROM intermediate.int_refresh__indicator WHERE rebuilt_in_full "
                           "ORDER BY 1").fetchall() == [("violence_charged_share",)]
    # March, its quarter (now complete), its calendar, financial and academic years, and the
    # twelve rolling periods that contain it
    assert ("month", "2025-03") in periods and ("quarter", "2025-01") in periods
    assert ("financial_year", "2024-04") in periods and ("month", "2025-02") not in periods
    assert len(periods) == 1 + 1 + 3 + 12
    # the mart check covered what was rebuilt, not every row
    with duckdb.connect(str(db), read_only=True) as con:
        total = con.execute("SELECT count(*) FROM marts.fct_indicator_value").fetchone()[0]
        rebuilt = con.execute("""SELECT count(*) FROM marts.fct_indicator_value
                                 WHERE indicator_id NOT IN ('violence_offences_rate', 'robbery_rate', 'weapon_possession_rate')
                                    OR period_start >= '2025-03-01' OR period_type <> 'month'""").fetchone()[0]
    assert checked.startswith(f"{rebuilt} indicator values passed") and rebuilt < total
    incremental = snapshot(db)

    deliver_and_build(full_refresh=True)
    assert refresh_scope(db)[0] == [("2025-01", True), ("2025-02", True), ("2025-03", True)]
    assert snapshot(db) == incremental
    with duckdb.connect(str(db), read_only=True) as con:
        # March's seven crimes in E01190001 are split between A and B by population weight: the
        # force's 9 is a sum of fractions, whole only to within rounding in whatever order the
        # threads add them, and must still be 9 exactly, with the exact limits for 9 events
        assert con.execute("""SELECT numerator, lower_ci_95 IS NOT NULL FROM intermediate.int_indicator__value
                              WHERE indicator_id = 'violence_offences_rate' AND area_type = 'pfa'
                                AND period_type = 'month' AND period_start = '2025-03-01'""").fetchall() == [(9.0, True)]
        assert con.execute("""SELECT count(*) FROM intermediate.int_indicator__value
                              WHERE numerator <> round(numerator)
                                AND abs(numerator - round(numerator)) < 1e-6""").fetchone() == (0,)
    # the outcome share of January moved with March's outcomes: 2 charged of 12
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("""SELECT numerator, denominator FROM marts.fct_indicator_value
                              WHERE indicator_id = 'violence_charged_share' AND area_code = ?
                                AND period_type = 'month' AND period_start = '2025-01-01'""", [A[0]]).fetchone() == (2, 12)


def test_a_redelivered_month_replaces_and_a_reference_change_rebuilds_all(pipeline_env):
    db, landing, police, deliver_and_build = pipeline_env
    write_street(police, "2025-01", [(A, VIOLENCE, 12), (D, VIOLENCE, 21)])
    write_street(police, "2025-02", [(A, VIOLENCE, 10)])
    deliver_and_build("2025-01")
    deliver_and_build("2025-02")

    write_street(police, "2025-01", [(A, VIOLENCE, 5), (B, ROBBERY, 1)])      # January, corrected
    deliver_and_build("2025-01")
    assert refresh_scope(db)[0] == [("2025-01", False)]
    with duckdb.connect(str(db), read_only=True) as con:   # no outcomes came: no share rebuilt in full
        assert con.execute("SELECT count(*) FROM intermediate.int_refresh__indicator WHERE rebuilt_in_full"
                           ).fetchone()[0] == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("""SELECT lsoa21_code, crime_type, crime_count FROM marts.fct_police_crime_lsoa_month
                              WHERE month_start = '2025-01-01' ORDER BY ALL""").fetchall() == [
            (A[0], VIOLENCE, 5), (B[0], ROBBERY, 1)]
    incremental = snapshot(db)
    deliver_and_build(full_refresh=True)
    assert snapshot(db) == incremental

    # nothing new: dbt does not run, and the marts stay as they are
    assert deliver_and_build() == "the marts were not rebuilt since their last passing check: nothing new to check"
    assert snapshot(db) == incremental

    # a new population estimate moves every rate: everything is rebuilt
    population = landing / "population" / "sapelsoasyoa_mid2024.csv"
    double_population(population, A[0])
    from ingestion import pipeline

    pipeline.load_reference(landing)
    deliver_and_build()
    assert refresh_scope(db)[0] == [("2025-01", True), ("2025-02", True)]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("""SELECT numerator, denominator FROM marts.fct_indicator_value
                              WHERE indicator_id = 'violence_offences_rate' AND area_code = ? AND period_type = 'month'
                                AND period_start = '2025-02-01'""", [A[0]]).fetchone() == (10, 3000)


def test_a_reference_change_rebuilds_indicators_even_without_street_files(pipeline_env):
    """Force extracts only (no police.uk street files, so no months to list): a new population
    still rebuilds the knife rates, and a new extract month rebuilds them in full."""
    from ingestion import pipeline
    from test_force_crime import JANUARY, write_tvp

    db, landing, _, deliver_and_build = pipeline_env

    def pfa_denominators():
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute("""SELECT DISTINCT denominator FROM marts.fct_indicator_value
                                  WHERE indicator_id = 'knife_serious_violence_rate' AND area_code = 'E23000029'
                                    AND period_type = 'month'""").fetchall()

    write_tvp(landing / "force_crime" / "thames-valley", "2025-01", JANUARY)
    pipeline.ingest_force_crime(landing / "force_crime")
    deliver_and_build()
    assert pfa_denominators() == [(7500,)]

    population = landing / "population" / "sapelsoasyoa_mid2024.csv"
    double_population(population, A[0])
    pipeline.load_reference(landing)
    deliver_and_build()
    assert pfa_denominators() == [(9000,)]
