"""Every DAG file imports, with the expected DAG ids and task wiring."""

from __future__ import annotations

from itertools import pairwise

import pytest

from ingestion.settings import DAGS_DIR

TAIL = ["check_raw", "dbt_build", "check_marts", "publish"]
EXPECTED = {
    "vru_pipeline": ["load_reference", "ingest_police_street", "ingest_force_crime", *TAIL],
    "police_street_monthly": ["wait_for_delivery", "ingest_month", *TAIL],
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
