"""The yearly DfE exclusions DAG: it parses, is wired like the other per-source DAGs (a
rescheduling sensor, the release's load, the shared check → build → check → publish tail), and
one run through Airflow loads a release from the landing folder; loading it again changes nothing.
DfE marts are not asserted here (docs/dfe_data.md): only the run, the raw rows and the manifest."""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest

from conftest import MINI_LSOAS, write_mini_reference
from ingestion.settings import DAGS_DIR, Settings
from test_police_street_load import VIOLENCE, write_street
from vru_airflow.runner import run_dag_test

DAG_ID = "dfe_exclusions_yearly"
DAG_FILE = DAGS_DIR / f"{DAG_ID}.py"
ORDER = ["fetch_release", "wait_for_delivery", "ingest_release", "check_raw", "dbt_build", "check_marts", "publish",
         "report"]

# the 2023/24 national / region / local authority file (SOURCES.md §2), cut down: Reading and
# Slough (unitary authorities of Thames Valley, South East), one row per level and phase
EXCLUSIONS_HEADER = ("time_identifier,time_period,geographic_level,country_code,country_name,region_code,region_name,"
                     "old_la_code,new_la_code,la_name,education_phase,num_schools,headcount,perm_excl,perm_excl_rate,"
                     "suspension,susp_rate,one_plus_susp,one_plus_susp_rate\n")
_YEAR = "Academic year,202324"
_SOUTH_EAST = "E92000001,England,E12000008,South East"
_READING, _SLOUGH = "872,E06000038,Reading", "871,E06000039,Slough"
_SECONDARY = "State-funded secondary"
EXCLUSIONS_ROWS = [
    f"{_YEAR},National,E92000001,England,,,,,,Total,21366,8445343,10885,0.12889,954952,11.30744,341266,4.04088",
    f"{_YEAR},Regional,{_SOUTH_EAST},,,,Total,3511,1398770,1690,0.12082,149803,10.70950,54218,3.87610",
    f"{_YEAR},Local authority,{_SOUTH_EAST},{_READING},Total,55,24310,21,0.08638,2311,9.50637,902,3.71040",
    f"{_YEAR},Local authority,{_SOUTH_EAST},{_READING},{_SECONDARY},12,10020,18,0.17964,1986,19.82036,701,6.99601",
    f"{_YEAR},Local authority,{_SOUTH_EAST},{_SLOUGH},Total,48,27702,low,x,1604,5.79019,c,c",
    f"{_YEAR},Local authority,{_SOUTH_EAST},{_SLOUGH},{_SECONDARY},14,12455,9,0.07226,1398,11.22441,540,4.33561",
]
LEVELS = {"National": 1, "Regional": 1, "Local authority": 4}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    previous = {k: os.environ.get(k) for k in ("AIRFLOW_HOME", "AIRFLOW__CORE__LOAD_EXAMPLES")}
    os.environ["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow_home"))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    try:
        yield DagBag(dag_folder=str(DAG_FILE))
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_the_dag_file_imports_without_errors_and_parses_fast(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dag_ids == [DAG_ID]
    [stat] = dagbag.dagbag_stats
    # the DAG processor parses the file every 30 s or so; Airflow gives up at 30 s
    assert stat.duration < timedelta(seconds=5), stat


def test_wiring_schedule_and_sensor(dagbag):
    from ingestion.settings import get_settings

    dag = dagbag.dags[DAG_ID]
    assert sorted(dag.task_ids) == sorted(ORDER)
    for upstream, downstream in pairwise(ORDER):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    # once a year, late July, never catching up
    assert type(dag.timetable).__name__ == "CronTriggerTimetable" and dag.timetable.expression == "0 6 25 7 *"
    assert dag.catchup is False and dag.max_active_runs == 1
    sensor = dag.get_task("wait_for_delivery")
    assert sensor.mode == "reschedule"
    assert sensor.poke_interval > 0 and timedelta(days=30) <= timedelta(seconds=sensor.timeout) <= timedelta(days=120)
    # landing dir as the other scheduled DAGs take it; release_dir optional, for a manual trigger
    assert dag.params["landing_dir"] == str(get_settings().landing_dir)
    assert dag.params["release_dir"] is None
    assert dag.params["download"] is False


def test_a_run_reads_release_dir_when_given_else_the_landing_dfe_folder(tmp_path):
    spec = importlib.util.spec_from_file_location("dfe_exclusions_yearly_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.release_folder({"landing_dir": "/srv/landing", "release_dir": None}) == Path("/srv/landing/dfe")
    assert module.release_folder({"landing_dir": "/srv/landing", "release_dir": str(tmp_path)}) == tmp_path


def raw_facts(settings) -> dict:
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        return {
            "manifest": con.execute("""SELECT source, source_file, outcome, rows_loaded, check_status
                                       FROM raw.load_manifest WHERE source LIKE 'dfe_%' ORDER BY ALL""").fetchall(),
            "load_ids": con.execute("SELECT DISTINCT _load_id FROM raw.dfe_exclusions").fetchall(),
            "levels": dict(con.execute("SELECT geographic_level, count(*) FROM raw.dfe_exclusions GROUP BY 1")
                           .fetchall()),
            "slough": con.execute("""SELECT perm_excl, perm_excl_status, one_plus_susp, one_plus_susp_status
                                     FROM raw.dfe_exclusions WHERE new_la_code = 'E06000039' AND phase = 'total'""")
                         .fetchall(),
        }


def test_a_run_loads_the_release_and_loading_it_again_changes_nothing(tmp_path, monkeypatch):
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(settings.warehouse_dir))
    from ingestion import pipeline
    from ingestion.sources import dfe

    landing = write_mini_reference(tmp_path / "landing")
    (landing / "dfe").mkdir()
    (landing / "dfe" / "exc_nat_region_la.csv").write_text(EXCLUSIONS_HEADER + "\n".join(EXCLUSIONS_ROWS) + "\n")
    pipeline.load_reference(landing, settings)
    # a warehouse already holding a police month, as the DAG meets it (indicators to check and publish)
    write_street(landing / "police", "2025-02", [(MINI_LSOAS[0][:2], VIOLENCE, 5)])
    pipeline.ingest_police_street(landing / "police", settings, month="2025-02")

    run = run_dag_test(DAG_ID, {"landing_dir": str(landing)}, settings, logical_date="2025-07-25T06:00:00+00:00")
    assert run.succeeded, "\n".join(run.error_lines) or run.log_file.read_text()[-5000:]
    assert run.task_states == dict.fromkeys(ORDER, "success")

    facts = raw_facts(settings)
    assert facts["manifest"] == [("dfe_exclusions", "exc_nat_region_la.csv", "loaded", 6, "passed")]
    assert facts["levels"] == LEVELS and len(facts["load_ids"]) == 1
    assert facts["slough"] == [(None, "low", None, "c")]       # symbols kept as a status, never zero
    assert settings.published_db.exists()

    # the run's load again (what a re-run of the interval does): the file is skipped, nothing changes
    again = pipeline.ingest_release([dfe.DFE_SCHOOL_REGISTER, dfe.DFE_EXCLUSIONS, dfe.DFE_EXCLUSION_REASONS],
                                    landing / "dfe", settings)
    assert [(r.source, r.file.name, r.outcome) for r in again.results] == [
        ("dfe_exclusions", "exc_nat_region_la.csv", "unchanged")]
    assert raw_facts(settings) == facts


def test_a_refused_release_file_fails_the_load_naming_file_row_and_rule(tmp_path):
    """What fails the DAG's ingest_release task: the loader's own rejection, by file, row and rule;
    a folder with no file of any DfE source is NothingDelivered."""
    from ingestion import pipeline
    from ingestion.sources import dfe

    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    release = tmp_path / "release"
    release.mkdir()
    specs = [dfe.DFE_SCHOOL_REGISTER, dfe.DFE_EXCLUSIONS, dfe.DFE_EXCLUSION_REASONS]
    with pytest.raises(pipeline.NothingDelivered, match="no dfe_school_register, dfe_exclusions"):
        pipeline.ingest_release(specs, release, settings)
    rows = [*EXCLUSIONS_ROWS[:2], EXCLUSIONS_ROWS[2].replace(",24310,", ",n/a,")]   # Reading's headcount
    (release / "exc_nat_region_la.csv").write_text(EXCLUSIONS_HEADER + "\n".join(rows) + "\n")
    with pytest.raises(pipeline.DeliveriesRejected) as refused:
        pipeline.ingest_release(specs, release, settings)
    assert "exc_nat_region_la.csv, row 3: rule 'headcount_number_or_symbol' failed" in str(refused.value)
