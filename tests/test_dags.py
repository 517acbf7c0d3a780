"""Every DAG file imports, with the expected DAG ids and task wiring."""

from __future__ import annotations

from itertools import pairwise

import pytest

from ingestion.settings import DAGS_DIR

TAIL = ["check_raw", "dbt_build", "check_marts", "publish", "report"]
EXPECTED = {
    "vru_pipeline": ["load_reference", "ingest_ae_ecds", "ingest_ae_istv", "ingest_police_street",
                     "ingest_dfe_exclusion_reasons", "ingest_dfe_exclusions", "ingest_force_crime",
                     "ingest_dfe_school_register", *TAIL],
    "police_street_monthly": ["wait_for_delivery", "ingest_month", *TAIL],
    "ae_monthly": ["wait_for_delivery", "ingest_month", *TAIL],
    "dfe_exclusions_yearly": ["fetch_release", "wait_for_delivery", "ingest_release", *TAIL],
    "reference_geography": ["load_reference", *TAIL],
}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import os

    os.environ["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow_home"))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_dag_files_import_without_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dag_ids(dagbag):
    assert set(dagbag.dag_ids) == set(EXPECTED)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_tasks_run_in_pipeline_order(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    order = EXPECTED[dag_id]
    assert sorted(dag.task_ids) == sorted(order)
    for upstream, downstream in pairwise(order):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    assert dag.max_active_runs == 1


def test_landing_dir_defaults_are_where_the_files_land(dagbag, monkeypatch):
    """After `vru demo`, vru_pipeline run with its defaults (e.g. triggered from the UI) loads the
    demo's files; the scheduled DAGs read where `vru download` and `vru download-police` write."""
    from typer.testing import CliRunner

    import ingestion.demo.generate
    from ingestion.cli import app
    from ingestion.settings import get_settings

    written = []

    def generate_only(out_dir, seed):   # stop the demo once it has said where it writes
        written.append(out_dir)
        raise SystemExit(3)

    monkeypatch.setattr(ingestion.demo.generate, "generate_demo_extracts", generate_only)
    CliRunner().invoke(app, ["demo"])
    settings = get_settings()
    assert written == [settings.demo_landing_dir]
    assert dagbag.dags["vru_pipeline"].params["landing_dir"] == str(settings.demo_landing_dir)
    for dag_id in ("police_street_monthly", "ae_monthly", "reference_geography"):
        assert dagbag.dags[dag_id].params["landing_dir"] == str(settings.landing_dir)


def test_dbt_task_emits_no_assets_and_no_telemetry(dagbag):
    """cosmos's per-node Assets failed a real scheduler's dbt task after dbt passed (SQLite UNIQUE
    constraint), and its telemetry calls out: both off wherever the dbt task is built."""
    import cosmos.settings
    from cosmos import telemetry

    for dag_id in EXPECTED:
        build = dagbag.dags[dag_id].get_task("dbt_build")
        assert build.emit_datasets is False
        assert build.outlets == [] and build.inlets == []
        assert build.env["DO_NOT_TRACK"] == "1" and build.env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"
    assert not cosmos.settings.enable_telemetry and not telemetry.should_emit()
