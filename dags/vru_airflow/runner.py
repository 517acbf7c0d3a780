"""Run a DAG through Airflow itself (`airflow dags test`) on a throwaway AIRFLOW_HOME with SQLite.

Used by `vru demo` and the DAG tests, so the demo exercises the real scheduler code path for
task ordering, params and failure handling rather than calling the step functions directly.
Airflow dies with the process that started it (`vru demo` killed with SIGKILL does not leave a DAG
run going on unseen); its tasks take the writer lock themselves, and dbt dies with its task.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import VruError
from ingestion.settings import DAGS_DIR, Settings, get_settings
from ingestion.warehouse import dies_with_parent
from vru_airflow import TELEMETRY_OFF

AIRFLOW = Path(sys.executable).with_name("airflow")


@dataclass
class DagRunOutcome:
    dag_id: str
    succeeded: bool
    task_states: dict[str, str]
    log_file: Path
    error_lines: list[str]


def airflow_env(airflow_home: Path, settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        "VRU_WAREHOUSE_DIR": str(settings.warehouse_dir),
        "PYTHONWARNINGS": "ignore",
        **TELEMETRY_OFF,    # nothing calls out (cosmos's listeners and dbt)
    }


_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(?P<task>\w+)")
_NEW_STATE = re.compile(r"new_state=(?P<state>\w+)")
_RUN_FINISHED = re.compile(r"DagRun Finished: .*?state=(?P<state>\w+)")
# the last line of a task's traceback names the exception's class: "ingestion.pipeline.ChecksFailed: …"
_RAISED = re.compile(r"^(?P<module>[A-Za-z_][\w.]*)\.(?P<name>[A-Za-z_]\w*): ")


def platform_error(line: str) -> type[VruError] | None:
    """The platform's own failure a log line reports, found by its type: the dotted class the
    line names is imported and kept only if it is a VruError (never by matching class names)."""
    found = _RAISED.match(line)
    if not found or not found.group("module").startswith(("ingestion", "vru_airflow")):
        return None
    try:
        raised = getattr(importlib.import_module(found.group("module")), found.group("name"), None)
    except ImportError:
        return None
    return raised if isinstance(raised, type) and issubclass(raised, VruError) else None


def run_dag_test(dag_id: str, conf: dict, settings: Settings | None = None,
                 on_task_start: Callable[[str], None] | None = None,
                 logical_date: str | None = None) -> DagRunOutcome:
    """`airflow db migrate` then `airflow dags test <dag_id> [logical_date] --conf ...` in a
    temporary home; the logical date sets the run's data interval (e.g. which month to load)."""
    settings = settings or get_settings()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.logs_dir / f"airflow-{dag_id}.log"
    with tempfile.TemporaryDirectory(prefix="vru-airflow-") as home, open(log_file, "w") as log:
        env = airflow_env(Path(home), settings)
        migrate = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, check=False,
                                 preexec_fn=dies_with_parent())
        log.write(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            return DagRunOutcome(dag_id, False, {}, log_file, migrate.stderr.splitlines()[-10:])
        process = subprocess.Popen(
            [str(AIRFLOW), "dags", "test", dag_id, *([logical_date] if logical_date else []),
             "--conf", json.dumps(conf)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            preexec_fn=dies_with_parent())
        states: dict[str, str] = {}
        errors: list[str] = []
        current, run_state, in_exception = None, None, False
        for line in process.stdout:
            log.write(line)
            if found := _TASK_START.search(line):
                current = found.group("task")
                states[current] = "running"
                if on_task_start:
                    on_task_start(current)
            elif (found := _NEW_STATE.search(line)) and current and found.group("state") != "running":
                states[current] = found.group("state")
            elif found := _RUN_FINISHED.search(line):
                run_state = found.group("state")
            if platform_error(line):
                errors.append(f"[{current}] {line.rstrip()}")
                in_exception = True
            elif in_exception and line.startswith("  ") and not line.startswith("  File"):
                errors.append(line.rstrip())
            else:
                in_exception = False
        process.wait()
    succeeded = process.returncode == 0 and run_state == "success"
    return DagRunOutcome(dag_id, succeeded, states, log_file, errors[-30:])
