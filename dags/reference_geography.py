"""ONS reference data (lookups, population estimates, IMD) → DuckDB raw → dbt → checks → publish.

Run when ONS publishes (boundaries change most Aprils; population estimates each summer), after
`vru download` has fetched and checked the files into the landing folder.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from airflow.sdk import dag, get_current_context, task

from vru_airflow.orchestration import check_build_publish, landing_dir_param

logging.getLogger("great_expectations").setLevel(logging.WARNING)


@dag(
    dag_id="reference_geography",
    description="Load ONS lookups, population and IMD, rebuild, check, publish",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["vru", "reference"],
    params={"landing_dir": landing_dir_param()},
    doc_md=__doc__,
)
def reference_geography():
    @task
    def load_reference() -> str:
        from ingestion.pipeline import load_reference as run

        return run(Path(get_current_context()["params"]["landing_dir"])).summary()

    first, _ = check_build_publish()
    load_reference() >> first


reference_geography()
