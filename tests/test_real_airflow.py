"""The DAGs in a real Airflow: scheduler, DAG processor and API server, as docs/deploy.md deploys
them (LocalExecutor, small parallelism, telemetry off), driven only through the REST API.

`airflow dags test` runs every task in one process and never showed what a real deployment did:
the dbt task failing after dbt passed (cosmos's per-node Assets on SQLite), telemetry calls to an
outside server, backfills running months at once. Here `vru_pipeline` is triggered with its
defaults on the demo's landing folder, then `police_street_monthly` is backfilled over two months
one run at a time, with the first month's files arriving only after the sensor has said what it
waits for, and the warehouse held by another writer when the load starts. Every outbound
connection goes to a local trap (HTTP(S)_PROXY), which must see none.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psutil
import pytest

from conftest import MINI_LSOAS, write_mini_reference
from ingestion.settings import DAGS_DIR, Settings
from ingestion.warehouse import dies_with_parent, writer_lock
from test_police_street_load import VIOLENCE, write_street
from vru_airflow import TELEMETRY_OFF

AIRFLOW = Path(sys.executable).with_name("airflow")
A, B = MINI_LSOAS[0][:2], MINI_LSOAS[2][:2]
BACKFILL_MONTHS = ["2025-01", "2025-02"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CallOutTrap:
    """A local 'proxy' every component is pointed at: it records what any process tried to reach
    outside this machine and refuses it. Police and NHS hosts must never call out."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.attempts.append(conn.recv(1024).decode("latin-1").splitlines()[0])
                except (OSError, IndexError):
                    self.attempts.append("(connection without a request line)")
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._server.close()


@dataclass
class RealAirflow:
    home: Path
    url: str
    settings: Settings
    trap: CallOutTrap
    env: dict[str, str]
    components: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str = ""

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/api/v2{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read().decode()[:2000]}") from None

    def alive(self) -> None:
        for name, process in self.components.items():
            assert process.poll() is None, f"airflow {name} exited ({process.returncode}):\n{self.output(name)}"

    def output(self, name: str, lines: int = 40) -> str:
        return "\n".join((self.home / f"{name}.out").read_text(errors="replace").splitlines()[-lines:])

    def task_logs(self, dag_id: str, task_id: str | None = None) -> dict[Path, str]:
        pattern = f"dag_id={dag_id}/**/task_id={task_id or '*'}/*.log"
        return {p: p.read_text(errors="replace") for p in sorted((self.home / "logs").glob(pattern))}

    def wait_for_log(self, dag_id: str, task_id: str, text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.alive()
            for log in self.task_logs(dag_id, task_id).values():
                if text in log:
                    return log
            time.sleep(0.5)
        raise AssertionError(f"no {dag_id}.{task_id} log said {text!r} within {timeout_s:.0f}s; "
                             f"runs: {self.api('GET', f'/dags/{dag_id}/dagRuns')}")

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout_s: float) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.alive()
            runs = [self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}") for run_id in run_ids]
            if any(run["state"] == "failed" for run in runs) or all(run["state"] == "success" for run in runs):
                break
            time.sleep(1)
        for run in runs:
            assert run["state"] == "success", self._failure(dag_id, run)
        return runs

    def _failure(self, dag_id: str, run: dict) -> str:
        tasks = self.api("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
        states = {t["task_id"]: t["state"] for t in tasks}
        failed = [t["task_id"] for t in tasks if t["state"] in ("failed", "upstream_failed")]
        logs = "".join(log[-4000:] for task in failed[:1] for log in self.task_logs(dag_id, task).values())
        return f"{dag_id} run {run['dag_run_id']} is {run['state']}: {states}\n{logs}\n{self.output('scheduler')}"


def stop(process: subprocess.Popen) -> None:
    """Stop a component: its whole process group (it was started in a session of its own), and any
    process it started that left the group (a task in a session of its own), by pid."""
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        for child in family:
            try:
                child.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        try:
            process.wait(timeout=grace)
            psutil.wait_procs(family, timeout=grace)
            if all(not c.is_running() for c in family):
                return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def real_airflow(tmp_path_factory):
    """Scheduler, DAG processor and API server on a scratch AIRFLOW_HOME (SQLite, LocalExecutor,
    parallelism 2), this repository's dags/, the warehouse in a tmp folder; each component in its
    own process group, all stopped at the end whatever happened."""
    tmp = tmp_path_factory.mktemp("real_airflow")
    home, settings = tmp / "airflow", Settings(warehouse_dir=tmp / "warehouse")
    home.mkdir()
    port = free_port()
    trap = CallOutTrap()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        # runs only when asked (trigger, backfill): unpausing a @monthly DAG creates no run of its own
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
        # parse the DAG files once: on two cores re-parsing every 30 s costs task time
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "VRU_WAREHOUSE_DIR": str(settings.warehouse_dir),
        "VRU_DELIVERY_POKE_INTERVAL_S": "2",
        "PYTHONWARNINGS": "ignore",
        **TELEMETRY_OFF,
        **dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"), trap.url),
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    }
    migrate = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, check=False)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    airflow = RealAirflow(home, f"http://127.0.0.1:{port}", settings, trap, env)
    with ExitStack() as stack:
        stack.callback(trap.close)
        for name, args in (("api-server", ["api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"]),
                           ("dag-processor", ["dag-processor"]), ("scheduler", ["scheduler"])):
            out = stack.enter_context(open(home / f"{name}.out", "w"))
            airflow.components[name] = subprocess.Popen([str(AIRFLOW), *args], env=env, stdout=out,
                                                        stderr=subprocess.STDOUT, start_new_session=True,
                                                        preexec_fn=dies_with_parent())
            stack.callback(stop, airflow.components[name])
        deadline = time.monotonic() + 240
        while True:
            airflow.alive()
            try:
                with urllib.request.urlopen(f"{airflow.url}/auth/token", timeout=5) as response:
                    airflow.token = json.loads(response.read())["access_token"]
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, f"API server not up:\n{airflow.output('api-server')}"
                time.sleep(0.5)
        while True:   # the DAG processor has parsed and serialised the DAG files
            dags = {d["dag_id"] for d in airflow.api("GET", "/dags")["dags"]}
            if {"vru_pipeline", "police_street_monthly"} <= dags:
                break
            assert time.monotonic() < deadline, f"DAGs not parsed:\n{airflow.output('dag-processor')}"
            time.sleep(0.5)
        yield airflow


def raw_file_counts(*folders: Path) -> Counter:
    """Street rows per month, counted from the delivered files themselves (not by the loader)."""
    counts: Counter = Counter()
    for folder in folders:
        for path in folder.rglob("*-street.csv"):
            with open(path, newline="", encoding="utf-8-sig") as handle:
                for row in csv.DictReader(handle):
                    counts[row["Month"]] += 1
    return counts


@dataclass
class Observed:
    pipeline_run: dict
    backfill_runs: list[dict]
    sensor_log: str
    ingest_log: str
    expected_counts: Counter
    lock_holder_pid: int


@pytest.fixture(scope="module")
def observed(real_airflow):
    airflow, settings = real_airflow, real_airflow.settings
    # vru_pipeline with its defaults reads the demo's landing folder: a small reference set and a month
    demo_landing = write_mini_reference(settings.demo_landing_dir)
    write_street(demo_landing / "police", "2024-12", [(A, VIOLENCE, 4), (B, VIOLENCE, 3)])
    airflow.api("PATCH", "/dags/vru_pipeline", {"is_paused": False})
    run = airflow.api("POST", "/dags/vru_pipeline/dagRuns", {"logical_date": None})
    [pipeline_run] = airflow.wait_for_runs("vru_pipeline", [run["dag_run_id"]], timeout_s=600)

    # police_street_monthly reads the landing folder `vru download-police` writes to; February has
    # come, January will come while its sensor waits
    police = settings.landing_dir / "police"
    write_street(police, "2025-02", [(A, VIOLENCE, 13), (B, VIOLENCE, 2)])
    airflow.api("PATCH", "/dags/police_street_monthly", {"is_paused": False})
    window = {"dag_id": "police_street_monthly", "from_date": "2025-01-01T00:00:00Z",
              "to_date": "2025-02-01T00:00:00Z", "max_active_runs": 1}
    planned = airflow.api("POST", "/backfills/dry_run", window)["backfills"]
    assert [p["logical_date"][:7] for p in planned] == BACKFILL_MONTHS
    with ExitStack() as held:
        held.enter_context(writer_lock(settings))   # another writer has the warehouse
        backfill = airflow.api("POST", "/backfills", window)
        sensor_log = airflow.wait_for_log("police_street_monthly", "wait_for_delivery",
                                          "waiting for police.uk street files for 2025-01", timeout_s=300)
        write_street(police, "2025-01", [(A, VIOLENCE, 11)])
        ingest_log = airflow.wait_for_log("police_street_monthly", "ingest_month", "waiting for the warehouse",
                                          timeout_s=300)
    assert backfill["max_active_runs"] == 1
    runs = airflow.api("GET", "/dags/police_street_monthly/dagRuns?run_type=backfill")["dag_runs"]
    run_ids = [r["dag_run_id"] for r in sorted(runs, key=lambda r: r["logical_date"])]
    backfill_runs = airflow.wait_for_runs("police_street_monthly", run_ids, timeout_s=900)
    sensor_log = "".join(airflow.task_logs("police_street_monthly", "wait_for_delivery").values())
    return Observed(pipeline_run, backfill_runs, sensor_log, ingest_log,
                    raw_file_counts(demo_landing / "police", police), os.getpid())


def test_pipeline_and_backfill_succeed_one_run_at_a_time(observed):
    assert observed.pipeline_run["state"] == "success"
    assert [r["logical_date"][:7] for r in observed.backfill_runs] == BACKFILL_MONTHS
    assert [r["state"] for r in observed.backfill_runs] == ["success", "success"]
    first, second = observed.backfill_runs
    assert first["end_date"] <= second["start_date"], "the backfill ran its months at once"


def test_warehouse_holds_each_month_once(observed, real_airflow):
    settings = real_airflow.settings
    assert set(observed.expected_counts) == {"2024-12", *BACKFILL_MONTHS}
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        in_warehouse = dict(con.execute("SELECT strftime(month, '%Y-%m'), count(*) FROM raw.police_street GROUP BY 1").fetchall())
        deliveries = con.execute("""SELECT source_file, count(*) FROM raw.load_manifest
                                    WHERE source = 'police_street' AND outcome = 'loaded' GROUP BY 1""").fetchall()
    assert in_warehouse == dict(observed.expected_counts)
    assert sorted(deliveries) == [(f"{m}-thames-valley-street.csv", 1) for m in sorted(observed.expected_counts)]
    assert settings.published_db.exists()


def test_sensor_says_which_files_it_waits_for(observed, real_airflow):
    folder = real_airflow.settings.landing_dir / "police"
    assert f"waiting for police.uk street files for 2025-01: none yet matching {folder}/**/2025-01-*-street.csv" \
        in observed.sensor_log
    assert "police.uk street files for 2025-01 in" in observed.sensor_log
    assert "found 2025-01-thames-valley-street.csv" in observed.sensor_log
    assert "found 2025-02-thames-valley-street.csv" in observed.sensor_log


def test_lock_wait_is_in_the_task_log(observed):
    assert f"waiting for the warehouse: held by pid {observed.lock_holder_pid} (" in observed.ingest_log


def test_nothing_calls_out(observed, real_airflow):
    assert real_airflow.trap.attempts == []
    # the trap does catch cosmos's telemetry sender in the components' environment, so its silence
    # above means something
    probe = "from cosmos import telemetry; telemetry.emit_usage_metrics({'event_type': 'probe'})"
    subprocess.run([sys.executable, "-c", probe], env=real_airflow.env, capture_output=True, timeout=60, check=False)
    assert [a.split()[:2] for a in real_airflow.trap.attempts] == [["CONNECT", "astronomer.gateway.scarf.sh:443"]]
    logs = {**real_airflow.task_logs("vru_pipeline"), **real_airflow.task_logs("police_street_monthly")}
    assert any("dbt_build" in str(p) for p in logs)
    for path, text in logs.items():
        assert "scarf" not in text.lower() and "usage metrics" not in text.lower(), path
    for name in real_airflow.components:
        assert "scarf" not in real_airflow.output(name, lines=100_000).lower(), name
