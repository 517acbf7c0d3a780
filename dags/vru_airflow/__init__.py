"""Airflow and cosmos glue, kept beside the DAGs and out of ingestion/ (which never imports
Airflow): the cosmos dbt task and the shared check-build-publish tail (orchestration.py), and
running a DAG through Airflow itself for the demo and the tests (runner.py).

Installed as the package `vru_airflow` (pyproject.toml); the DAG processor skips this folder
(.airflowignore)."""
