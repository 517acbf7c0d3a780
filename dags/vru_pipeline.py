"""VRU pipeline: reference data and police.uk street files → DuckDB raw → GX → dbt → GX → publish.

Thin on purpose: every step is a function in ingestion/ (testable without Airflow). The tasks
run one after another and `max_active_runs=1`, and each writer also takes the warehouse's file
lock, so DuckDB's single writer is never contended.
"""

from __future__ import annotations

import logging
from datetime import datetime

from airflow.sdk import Param, dag, get_current_context, task

from ingestion.orchestration import dbt_build_task
from ingestion.settings import get_settings

# GX registers hundreds of functions with INFO logs on import; keep task logs readable.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


def _landing_dir():
    from pathlib import Path

    return Path(get_current_context()["params"]["landing_dir"])


@dag(
    dag_id="vru_pipeline",
    description="Load reference data and police.uk street files, build indicators, check, publish",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["vru", "police", "reference"],
    params={"landing_dir": Param(str(get_settings().landing_dir), type="string",
                                 description="Folder with ons/, population/ and police/ deliveries")},
    doc_md=__doc__,
)
def vru_pipeline():
    @task
    def load_reference() -> str:
        from ingestion.pipeline import load_reference as run

        return run(_landing_dir()).summary()

    @task
    def ingest_police_street() -> str:
        from ingestion.pipeline import ingest_police_street as run

        return run(_landing_dir() / "police").summary()

    @task
    def check_raw() -> str:
        from ingestion.pipeline import check_raw as run

        return run()

    @task
    def check_marts() -> str:
        from ingestion.pipeline import check_marts as run

        return run()

    @task
    def publish() -> str:
        from ingestion.publish import publish as run

        return str(run())

    (load_reference() >> ingest_police_street() >> check_raw() >> dbt_build_task()
     >> check_marts() >> publish())


vru_pipeline()
