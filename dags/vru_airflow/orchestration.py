"""Airflow-facing helpers kept out of the DAG files: the cosmos dbt operator under the lock and the
checked build-and-publish tail the DAGs share."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from subprocess import PIPE, STDOUT
from typing import Any

from vru_airflow import TAIL_TASK_IDS, TELEMETRY_OFF

# before cosmos is imported: its settings read these once, at import
os.environ.update(TELEMETRY_OFF)

import cosmos.settings
from cosmos import ProfileConfig
from cosmos.constants import InvocationMode
from cosmos.hooks.subprocess import FullOutputSubprocessHook, FullOutputSubprocessResult
from cosmos.operators.local import DbtBuildLocalOperator

from ingestion import build_state
from ingestion.settings import DBT_PROJECT_DIR, get_settings
from ingestion.transform import dbt_env
from ingestion.warehouse import WriterLock, connect_working, writer_child, writer_lock

log = logging.getLogger(__name__)

# ...and if something imported cosmos first (its Airflow plugin is loaded by every component), its
# telemetry check reads these module attributes at each call
cosmos.settings.enable_telemetry = False
cosmos.settings.do_not_track = True
cosmos.settings.no_analytics = True

PROFILE = ProfileConfig(
    profile_name="vru",
    target_name="warehouse",
    profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
)


class LockHoldingSubprocessHook(FullOutputSubprocessHook):
    """cosmos's subprocess hook, but dbt is started by `warehouse.writer_child` under the task's
    writer lock: dbt inherits the lock (held until dbt has ended, even if the task process is
    killed first) and dies with the task process. cosmos's own hook closes every descriptor in
    dbt and puts it in a session of its own, so a task killed with SIGKILL (Airflow's heartbeat
    timeout, an OOM kill, `kill -9` of the task or its process group) would leave dbt writing the
    warehouse with the lock already released. The rest is as cosmos does it: output line by line
    to the task log, dbt in its own session so `on_kill` can signal its group."""

    def __init__(self, lock: Callable[[], WriterLock | None]) -> None:
        super().__init__()
        self._lock = lock

    def run_command(self, command: list[str], env: dict[str, str] | None = None, output_encoding: str = "utf-8",
                    cwd: str | None = None, process_log_line: Callable[[str, Any], None] | None = None,
                    **kwargs: Any) -> FullOutputSubprocessResult:
        lock = self._lock()
        if lock is None:
            raise RuntimeError("dbt runs only under the warehouse's writer lock (LockedDbtBuildOperator.execute)")
        lines: list[str] = []
        with contextlib.ExitStack() as stack:
            if cwd is None:
                cwd = stack.enter_context(tempfile.TemporaryDirectory(prefix="airflowtmp"))
            log.info("Running command: %s", command)
            dbt = stack.enter_context(writer_child(
                command, lock, f"dbt {command[1] if len(command) > 1 else ''}".strip(), new_session=True,
                stdout=PIPE, stderr=STDOUT, cwd=cwd, env=env if env or env == {} else None, bufsize=1,
                text=True, encoding=output_encoding, errors="backslashreplace"))
            self.sub_process = dbt
            kwargs.setdefault("project_dir", cwd)
            for line in dbt.stdout:
                line = line.rstrip("\n")
                lines.append(line)
                if process_log_line:
                    process_log_line(line, kwargs)
                else:
                    log.info("%s", line)
            code = dbt.wait()
            log.info("Command exited with return code %s", code)
        return FullOutputSubprocessResult(exit_code=code, output=lines[-1] if lines else "", full_output=lines)


class LockedDbtBuildOperator(DbtBuildLocalOperator):
    """`dbt build` (models, seeds, contracts and data tests in DAG order) holding the warehouse's
    single-writer lock, so a loader or CLI command waits instead of meeting DuckDB's lock error.
    dbt runs as a subprocess (InvocationMode.SUBPROCESS, not cosmos's in-process DBT_RUNNER:
    dbt-duckdb keeps its connection open until the process ends, which would outlive the lock)
    that holds the task's lock and dies with the task (LockHoldingSubprocessHook)."""

    _writer_lock: WriterLock | None = None

    def execute(self, context, **kwargs):
        """Skipped (not failed) when nothing is new since the last complete build
        (ingestion/build_state.py): the tasks after it run anyway and find nothing to do. When only
        deliveries changed, only the nodes they reach are built; when the project changed, all from
        scratch (build_state.plan_build)."""
        from airflow.sdk.exceptions import AirflowSkipException

        with writer_lock() as lock:
            with contextlib.closing(connect_working(get_settings())) as con:
                plan = build_state.plan_build(con)
            if plan is None:
                raise AirflowSkipException("nothing new since the last build: dbt not run")
            log.info("dbt build: %s%s%s", plan.reason, "; from scratch" if plan.full_refresh else "",
                     f"; selecting {' '.join(plan.select)}" if plan.select else "")
            self.full_refresh = plan.full_refresh or self.full_refresh
            self.select = " ".join(plan.select) if plan.select else None
            # the project as it is now, recorded by the build's on-run-end hook
            self.env = {**(self.env or {}), build_state.FINGERPRINT_ENV: build_state.project_fingerprint()}
            self._writer_lock = lock
            try:
                return super().execute(context, **kwargs)
            finally:
                self._writer_lock = None

    @cached_property
    def subprocess_hook(self) -> LockHoldingSubprocessHook:
        return LockHoldingSubprocessHook(lambda: self._writer_lock)


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
        env={**dbt_env(get_settings()), **TELEMETRY_OFF},
        append_env=True,
        # no Airflow Asset per dbt node: in a real scheduler on SQLite cosmos's asset updates failed
        # the task after dbt had passed (UNIQUE constraint failed: asset.name, asset.uri), and
        # nothing here is scheduled on them
        emit_datasets=False,
    )


def check_build_publish():
    """The tail every ingest DAG shares, as tasks in the current DAG: GX on new raw deliveries →
    dbt build → GX on the marts → publish → the HTML report of the published file (report/ beside
    it, swapped in whole: a failed report leaves the previous one and the published file as they
    were). With nothing new, dbt is skipped and the others do nothing. Returns (first task, last
    task) for wiring."""
    from airflow.sdk import TriggerRule, chain, task

    @task
    def check_raw() -> str:
        from ingestion.pipeline import check_raw as run

        return run()

    # dbt_build is skipped when nothing is new; what follows still runs (none failed) and finds
    # nothing to do itself, so a publish that failed after an earlier build is still retried
    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def check_marts() -> str:
        from ingestion.pipeline import check_marts as run

        return run()

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def publish() -> str:
        from ingestion.publish import publish as run

        return str(run())

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def report() -> str:
        from ingestion.report import write_published_report

        return str(write_published_report())

    tasks = [check_raw(), dbt_build_task(), check_marts(), publish(), report()]
    assert [getattr(t, "operator", t).task_id for t in tasks] == list(TAIL_TASK_IDS), "TAIL_TASK_IDS names them"
    chain(*tasks)
    return tasks[0], tasks[-1]


def landing_dir_param(demo: bool = False):
    """The DAGs' `landing_dir` param. Its default is where the files come: `vru download` and
    `vru download-police` write to the warehouse's landing folder, `vru demo` to its demo/ folder
    (kept apart so the demo never mixes with or deletes real deliveries), which is the default of
    the demo's DAG, vru_pipeline."""
    from airflow.sdk import Param

    settings = get_settings()
    return Param(str(settings.demo_landing_dir if demo else settings.landing_dir), type="string",
                 description="Folder with the deliveries: ons/, population/, deprivation/, police/ and force_crime/")


def delivery_poke_interval() -> timedelta:
    """How often a sensor looks for a delivery: 12 hours (police.uk publishes monthly), or
    `VRU_DELIVERY_POKE_INTERVAL_S` seconds (read when the DAG is parsed; the tests use seconds)."""
    return timedelta(seconds=float(os.environ.get("VRU_DELIVERY_POKE_INTERVAL_S", 12 * 3600)))


def pseudonymisation_key_from_connection() -> bool:
    """Inside a task: the Airflow connection `vru_pseudonymisation`'s password becomes
    VRU_PSEUDONYMISATION_KEY for this task process, unless the workers' environment already
    configures a key (VRU_PSEUDONYMISATION_KEY or VRU_PSEUDONYMISATION_KEY_FILE), which then wins.
    A missing connection is not an error: files carrying identifiers are then refused by the loader,
    by name, saying the key is missing. True when the key was taken from the connection. The
    password is masked in task logs by Airflow (a connection's secret) and never logged here."""
    from ingestion import privacy

    if os.environ.get(privacy.KEY_ENV) or os.environ.get(privacy.KEY_FILE_ENV):
        log.info("pseudonymisation key: from the environment (%s)",
                 privacy.KEY_ENV if os.environ.get(privacy.KEY_ENV) else privacy.KEY_FILE_ENV)
        return False
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = Connection.get(privacy.AIRFLOW_CONNECTION)
    except AirflowNotFoundException:
        log.info("pseudonymisation key: none configured (no Airflow connection %r, no %s); files with "
                 "direct identifiers will be refused", privacy.AIRFLOW_CONNECTION, privacy.KEY_ENV)
        return False
    if not connection.password:
        log.warning("pseudonymisation key: the Airflow connection %r has no password; files with direct "
                    "identifiers will be refused", privacy.AIRFLOW_CONNECTION)
        return False
    os.environ[privacy.KEY_ENV] = connection.password
    log.info("pseudonymisation key: from the Airflow connection %r", privacy.AIRFLOW_CONNECTION)
    return True
