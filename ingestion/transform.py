"""Run dbt against the working warehouse (the CLI and tests; the DAG runs dbt through cosmos).

dbt runs in its own process: dbt-duckdb keeps its DuckDB connection open for the life of the
process, which would block any other connection to the file from the caller afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ingestion.errors import VruError
from ingestion.settings import DBT_PROJECT_DIR, Settings, get_settings
from ingestion.warehouse import writer_lock

DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


class DbtFailed(VruError):
    hint = "see the failing model or test above; the published warehouse is unchanged"


def dbt_env(settings: Settings | None = None) -> dict[str, str]:
    """Environment dbt needs: the absolute DuckDB path (cosmos copies the project elsewhere)."""
    settings = settings or get_settings()
    return {"VRU_WAREHOUSE_PATH": str(settings.working_db), "VRU_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}


def run_dbt(args: Sequence[str] = ("build",), settings: Settings | None = None,
            project_dir: Path = DBT_PROJECT_DIR) -> str:
    """`dbt <args>` under the writer lock; raises DbtFailed with dbt's own error lines."""
    settings = settings or get_settings()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    command = [str(DBT_EXECUTABLE), *args, "--project-dir", str(project_dir),
               "--profiles-dir", str(project_dir),
               "--target-path", str(settings.warehouse_dir / "dbt_target"),
               "--log-path", str(settings.logs_dir)]
    with writer_lock(settings):
        done = subprocess.run(command, env={**os.environ, **dbt_env(settings)},
                              capture_output=True, text=True, check=False)   # failure handled below
    if done.returncode != 0:
        # dbt closes with a summary of each failing node and its message; keep that part
        lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln) for ln in done.stdout.splitlines()]
        start = next((i for i, ln in enumerate(lines) if "Completed with" in ln or "Encountered an error" in ln), -25)
        raise DbtFailed(f"dbt {' '.join(args)} failed:\n" + "\n".join(ln for ln in lines[start:] if ln.strip())[-4000:])
    return done.stdout
