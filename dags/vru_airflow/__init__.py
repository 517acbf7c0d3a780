"""Airflow and cosmos glue, kept beside the DAGs and out of ingestion/ (which never imports
Airflow): the cosmos dbt task and the shared check-build-publish tail (orchestration.py), and
running a DAG through Airflow itself for the demo and the tests (runner.py).

Installed as the package `vru_airflow` (pyproject.toml); the DAG processor skips this folder
(.airflowignore)."""

# Police and NHS hosts never call out. astronomer-cosmos sends usage telemetry (to scarf.sh) from
# its listeners in the scheduler and in every task process, and dbt its anonymous usage stats:
# every Airflow component and dbt gets these (runner.py, docs/deploy.md), and the code that
# builds the dbt task sets them in its own process too (orchestration.py).
TELEMETRY_OFF = {
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "true",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
}

# the task ids of the tail every ingest DAG ends with (orchestration.check_build_publish), in order
TAIL_TASK_IDS = ("check_raw", "dbt_build", "check_marts", "publish", "report")
