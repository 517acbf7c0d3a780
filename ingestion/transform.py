"""Run dbt against the working warehouse (the CLI and tests; the DAG runs dbt through cosmos).

dbt runs in its own process: dbt-duckdb keeps its DuckDB connection open for the life of the
process, which would block any other connection to the file from the caller afterwards. That
process writes under the caller's writer lock (`warehouse.writer_child`: it inherits the lock and
dies with the caller), so a `vru build` killed by SIGKILL never leaves dbt writing unlocked. A dbt
killed midway leaves the warehouse as of its last committed model: dbt-duckdb builds each model in
one transaction (a table is created under a temporary name and swapped in, an incremental model's
delete and insert commit together) and DuckDB's write-ahead log drops an uncommitted one; leftover
`__dbt_tmp`/`__dbt_backup` relations are dropped by the next run, and the incremental scope is
measured from the last *complete* build (its on-run-end hook), so running the build again redoes
what the killed one had started.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ingestion import build_state
from ingestion.errors import VruError
from ingestion.settings import DBT_PROJECT_DIR, Settings, get_settings
from ingestion.warehouse import writer, writer_child, writer_lock

DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


class DbtFailed(VruError):
    hint = "see the failing model or test above; the published warehouse is unchanged"


def dbt_env(settings: Settings | None = None) -> dict[str, str]:
    """Environment dbt needs: the absolute DuckDB path (cosmos copies the project elsewhere)."""
    settings = settings or get_settings()
    return {"VRU_WAREHOUSE_PATH": str(settings.working_db), "VRU_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", build_state.FINGERPRINT_ENV: build_state.project_fingerprint()}


def run_dbt(args: Sequence[str] = ("build",), settings: Settings | None = None,
            project_dir: Path = DBT_PROJECT_DIR) -> str:
    """`dbt <args>` under the writer lock; raises DbtFailed with dbt's own error lines."""
    settings = settings or get_settings()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    command = [str(DBT_EXECUTABLE), *args, "--project-dir", str(project_dir),
               "--profiles-dir", str(project_dir),
               "--target-path", str(settings.warehouse_dir / "dbt_target"),
               "--log-path", str(settings.logs_dir)]
    with writer_lock(settings) as lock, writer_child(
            command, lock, f"dbt {args[0] if args else ''}".strip(), env={**os.environ, **dbt_env(settings)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as dbt:
        stdout, _ = dbt.communicate()
    if dbt.returncode != 0:     # failure handled here
        # dbt closes with a summary of each failing node and its message; keep that part
        lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln) for ln in stdout.splitlines()]
        start = next((i for i, ln in enumerate(lines) if "Completed with" in ln or "Encountered an error" in ln), -25)
        raise DbtFailed(f"dbt {' '.join(args)} failed:\n" + "\n".join(ln for ln in lines[start:] if ln.strip())[-4000:])
    return stdout


def build(settings: Settings | None = None, full_refresh: bool = False) -> str:
    """`dbt build` when something is new since the last complete build (build_state.plan_build:
    new or withdrawn deliveries, a changed dbt project, no build yet): of only the nodes the
    changed deliveries reach when that is all that changed, from scratch when the project
    changed; with nothing new, no dbt at all. A full refresh always builds everything."""
    settings = settings or get_settings()
    if full_refresh:
        plan = build_state.BuildPlan("full refresh", full_refresh=True)
    else:
        with writer(settings) as con:
            plan = build_state.plan_build(con)
        if plan is None:
            return "nothing new since the last build: dbt not run"
    run_dbt(plan.dbt_args(), settings)
    how = "; rebuilt from scratch" if plan.full_refresh and not full_refresh else (
        "; only what they reach" if plan.select else "")
    return f"models built and tested ({plan.reason}{how})"
