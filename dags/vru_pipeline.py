"""VRU pipeline, all sources at once: reference data, then every declared source delivered to the
landing folder (police.uk files, forces' recorded-crime extracts, …) → DuckDB raw → GX → dbt → GX
→ publish. The demo runs this DAG; scheduled loads use the per-source DAGs.

Thin on purpose: every step is a function in ingestion/ (testable without Airflow). The tasks
run one after another and `max_active_runs=1`, and each writer also takes the warehouse's file
lock, so DuckDB's single writer is never contended.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from airflow.sdk import dag, get_current_context, task

from ingestion.sources import landed_sources
from vru_airflow.orchestration import check_build_publish, landing_dir_param, pseudonymisation_key_from_connection

# GX registers hundreds of functions with INFO logs on import; keep task logs readable.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


@dag(
    dag_id="vru_pipeline",
    description="Load reference data and police.uk street files, build indicators, check, publish",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["vru", "police", "reference"],
    params={"landing_dir": landing_dir_param(demo=True)},   # where `vru demo` writes
    doc_md=__doc__,
)
def vru_pipeline():
    @task
    def load_reference() -> str:
        from ingestion.pipeline import load_reference as run

        return run(Path(get_current_context()["params"]["landing_dir"])).summary()

    @task
    def ingest(source: str) -> str:
        from ingestion.pipeline import ingest_landed

        pseudonymisation_key_from_connection()      # A&E files may carry identifiers
        return ingest_landed(source, Path(get_current_context()["params"]["landing_dir"])).summary()

    # one task per declared source with a landing folder (ingestion/sources): a new source
    # needs no edit here
    previous = load_reference()
    for spec in landed_sources():
        step = ingest.override(task_id=spec.task_id)(source=spec.name)
        previous >> step
        previous = step
    first, _ = check_build_publish()
    previous >> first


vru_pipeline()
