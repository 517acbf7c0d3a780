"""Airflow-facing helpers kept out of the DAG files: the cosmos dbt operator under the lock and the
checked build-and-publish tail the DAGs share."""

from __future__ import annotations

import sys
from pathlib import Path

from cosmos import ProfileConfig
from cosmos.constants import InvocationMode
from cosmos.operators.local import DbtBuildLocalOperator

from ingestion.settings import DBT_PROJECT_DIR, get_settings
from ingestion.transform import dbt_env
from ingestion.warehouse import writer_lock

PROFILE = ProfileConfig(
    profile_name="vru",
    target_name="warehouse",
    profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
)


class LockedDbtBuildOperator(DbtBuildLocalOperator):
    """`dbt build` (models, seeds, contracts and data tests in DAG order) holding the warehouse's
    single-writer lock, so a loader or CLI command waits instead of meeting DuckDB's lock error."""

    def execute(self, context, **kwargs):
        with writer_lock():
            return super().execute(context, **kwargs)


def dbt_build_task(task_id: str = "dbt_build") -> LockedDbtBuildOperator:
    """One `dbt build` task: cosmos runs dbt as a subprocess from a temporary copy of the project
    (so the DuckDB path is absolute, via VRU_WAREHOUSE_PATH). One task rather than one per model:
    per-model tasks cost ~10x the wall time here (STACK_NOTES.md) and dbt already orders the work."""
    return LockedDbtBuildOperator(
        task_id=task_id,
        project_dir=str(DBT_PROJECT_DIR),
        profile_config=PROFILE,
        invocation_mode=InvocationMode.SUBPROCESS,
        dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
        install_deps=False,
        env=dbt_env(get_settings()),
        append_env=True,
    )


def check_build_publish():
    """The tail every ingest DAG shares, as tasks in the current DAG: GX on new raw deliveries →
    dbt build → GX on the marts → publish. Returns (first task, last task) for wiring."""
    from airflow.sdk import task

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

    first = check_raw()
    last = first >> dbt_build_task() >> check_marts() >> publish()
    return first, last


def landing_dir_param():
    from airflow.sdk import Param

    return Param(str(get_settings().landing_dir), type="string",
                 description="Folder with the deliveries: ons/, population/, deprivation/, police/ and force_crime/")
