"""Airflow-facing helpers kept out of the DAG files: the cosmos dbt operator under the lock."""

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
