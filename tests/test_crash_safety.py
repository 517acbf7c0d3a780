"""Crash safety: SIGKILL to a `vru` command, to its process group, or to the Airflow task running
dbt never leaves a process writing the warehouse without the writer lock, never leaves a temporary
file in published/ once the next writer has run, and never leaves the published file unreadable.
Running the killed commands again gives the same marts as a clean run of the same inputs.

Real processes and real SIGKILL, at points detected from what the process writes (the lock file's
holder record, dbt's log, the publish's temporary copy), not from sleeps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import psutil
import pytest

from conftest import MINI_LSOAS, write_mini_reference
from test_police_street_load import ROBBERY, VIOLENCE, write_street

VRU = Path(sys.executable).with_name("vru")
A, B, C, D = (lsoa[:2] for lsoa in MINI_LSOAS)


# --- helpers ---------------------------------------------------------------------------------

def wait_for(condition: Callable[[], object], what: str, timeout_s: float = 60.0, every_s: float = 0.005,
             process: subprocess.Popen | None = None):
    """Poll `condition` until it is true; fail if `process` ends first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := condition():
            return found
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what}: the process ended first (exit {process.returncode}) — the kill point was missed")
        time.sleep(every_s)
    pytest.fail(f"{what}: not seen within {timeout_s:.0f}s")


def holder_record(settings) -> dict:
    """The lock file as the holder wrote it, read without locking (probing with flock could make a
    writer taking the lock at that instant back off)."""
    try:
        return json.loads(settings.lock_file.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def processes_with_open(path: Path) -> list[int]:
    """Other processes with the file open (as /proc shows their descriptors)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and any(f.path == str(path) for f in proc.open_files()):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def assert_no_writer_without_the_lock(settings, killed: list[int]) -> None:
    """After a kill: taking the writer lock waits for any process still holding it; once we hold
    it, no other process has the working file open and DuckDB opens it at once (its own lock free:
    no straggler writing unlocked). Every process seen writing before the kill is gone by then."""
    from ingestion.warehouse import writer_lock

    with writer_lock(settings, timeout_s=60):
        assert [pid for pid in killed if alive(pid)] == []
        assert processes_with_open(settings.working_db) == []
        con = duckdb.connect(str(settings.working_db))      # no retry: DuckDB's lock must be free
        try:
            con.execute("SELECT count(*) FROM information_schema.tables").fetchall()
        finally:
            con.close()


def start_vru(env: dict[str, str], *args: str) -> subprocess.Popen:
    """`vru ARGS` in a process group of its own (so killpg reaches it and its children only)."""
    return subprocess.Popen([str(VRU), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def run_vru(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([str(VRU), *args], env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def kill(process: subprocess.Popen, group: bool) -> None:
    if group:
        os.killpg(process.pid, signal.SIGKILL)
    else:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def holds_the_lock(settings, pid: int) -> bool:
    return holder_record(settings).get("pid") == pid


def dbt_holding_the_lock(settings, vru: subprocess.Popen) -> int | None:
    """dbt's pid once the lock file names dbt, started by `vru`, as the holder."""
    record = holder_record(settings)
    pid = record.get("pid")
    if pid and pid != vru.pid and str(record.get("command", "")).startswith("dbt build"):
        try:
            if psutil.Process(pid).ppid() == vru.pid:
                return pid
        except psutil.NoSuchProcess:
            return None
    return None


def models_built_since(log: Path, offset: int) -> int:
    if not log.exists():
        return 0
    with open(log, errors="replace") as handle:
        handle.seek(offset)
        return handle.read().count(" OK created ")


def differences(left: str, right: str, tables: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """Rows in one and not the other (EXCEPT ALL both ways), for (left table, right table) pairs of
    two files; floats compared to 9 significant figures (sums may add in another order)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
        out = {}
        for mine, theirs in tables:
            cols = con.execute(f"SELECT * FROM l.{mine} LIMIT 0").description
            select = ", ".join(
                f"format('{{:.9g}}', \"{c[0]}\") AS \"{c[0]}\"" if str(c[1]) in ("DOUBLE", "FLOAT") else f'"{c[0]}"'
                for c in cols)
            only_left = con.execute(f"SELECT count(*) FROM (SELECT {select} FROM l.{mine} "
                                    f"EXCEPT ALL SELECT {select} FROM r.{theirs})").fetchone()[0]
            only_right = con.execute(f"SELECT count(*) FROM (SELECT {select} FROM r.{theirs} "
                                     f"EXCEPT ALL SELECT {select} FROM l.{mine})").fetchone()[0]
            if only_left or only_right:
                out[mine] = (only_left, only_right)
        return out
    finally:
        con.close()


def tables_in(path: Path, schema: str) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = ? ORDER BY 1", [schema]).fetchall()]


def committed(wal: Path, names: list[str]) -> int:
    """How many of these delivery files DuckDB's write-ahead log names, i.e. how many loads have
    committed (their manifest row and raw rows are written to it at commit)."""
    data = wal.read_bytes() if wal.exists() else b""
    return sum(name.encode() in data for name in names)


def assert_loads_whole(path: Path) -> int:
    """Every delivery the manifest calls loaded has all its rows in its raw table, and no raw row
    belongs to a load the manifest does not call loaded. Returns how many deliveries are loaded."""
    with duckdb.connect(str(path), read_only=True) as con:
        loaded = con.execute("SELECT load_id, rows_loaded FROM raw.load_manifest WHERE outcome = 'loaded'").fetchall()
        rows = {}
        for (table,) in con.execute("SELECT DISTINCT raw_table FROM raw.source_registry").fetchall():
            rows.update(con.execute(f"SELECT _load_id, count(*) FROM {table} GROUP BY 1").fetchall())
    assert rows == {load_id: n for load_id, n in loaded if n}
    return len(loaded)


def deliveries(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT source, source_file, outcome, rows_loaded, rows_quarantined, check_status "
                           "FROM raw.load_manifest ORDER BY ALL").fetchall()


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    folder = write_mini_reference(tmp_path_factory.mktemp("crash") / "landing")
    for i, month in enumerate(["2025-01", "2025-02", "2025-03"]):
        write_street(folder / "police", month, [(A, VIOLENCE, 12 + i), (B, VIOLENCE, 3), (C, ROBBERY, 4 + i),
                                                (D, VIOLENCE, 21)])
    return folder


@pytest.fixture(scope="module")
def clean_run(landing, tmp_path_factory):
    """The same inputs loaded and built once, with nothing killed (unchecked deliveries count, so
    the raw checks, needed only to publish, are left out here)."""
    from ingestion import pipeline
    from ingestion.settings import Settings
    from ingestion.transform import run_dbt

    settings = Settings(warehouse_dir=tmp_path_factory.mktemp("clean") / "warehouse")
    pipeline.load_reference(landing, settings)
    pipeline.ingest_police_street(landing / "police", settings)
    run_dbt(["build"], settings)
    return settings


# --- the CLI: ingest, build, publish killed ----------------------------------------------------

def test_sigkill_during_ingest_build_and_publish_leaves_no_unlocked_writer_and_reruns_match_a_clean_run(
        landing, clean_run, tmp_path):
    from ingestion import pipeline
    from ingestion.publish import publish
    from ingestion.settings import Settings

    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    env = {**os.environ, "VRU_WAREHOUSE_DIR": str(settings.warehouse_dir)}

    # ingest of the reference folder (7 files, one transaction each): SIGKILL to the command once
    # it holds the lock and 3 of its deliveries have committed, the others still to come
    wal = settings.working_db.with_name(settings.working_db.name + ".wal")
    reference = sorted(f.name for f in landing.rglob("*.csv") if "police" not in f.parts)
    vru = start_vru(env, "ingest", "reference", str(landing))
    wait_for(lambda: holds_the_lock(settings, vru.pid), "reference ingest holds the lock", process=vru)
    wait_for(lambda: committed(wal, reference) >= 3, "3 reference deliveries committed", process=vru, every_s=0.002)
    kill(vru, group=False)
    assert_no_writer_without_the_lock(settings, [vru.pid])
    assert 3 <= assert_loads_whole(settings.working_db) < len(reference)
    run_vru(env, "ingest", "reference", str(landing))
    assert assert_loads_whole(settings.working_db) == len(reference)

    # ingest of the police folder (one batch, one transaction): SIGKILL to its process group once
    # it has taken the lock and begun writing (its first commit is in the write-ahead log)
    size = wal.stat().st_size if wal.exists() else 0
    vru = start_vru(env, "ingest", "police-street", str(landing / "police"))
    wait_for(lambda: holds_the_lock(settings, vru.pid), "police ingest holds the lock", process=vru)
    wait_for(lambda: wal.exists() and wal.stat().st_size != size, "police ingest writes", process=vru, every_s=0.001)
    kill(vru, group=True)
    assert_no_writer_without_the_lock(settings, [vru.pid])
    assert_loads_whole(settings.working_db)
    run_vru(env, "ingest", "police-street", str(landing / "police"))
    assert_loads_whole(settings.working_db)
    # nothing half-loaded or loaded twice: the same deliveries with the same counts as the clean run
    assert [d[:5] for d in deliveries(settings.working_db)] == [d[:5] for d in deliveries(clean_run.working_db)]

    # vru build: SIGKILL to the command alone (not its group) once dbt, named in the lock file as
    # the holder, has built part of the models (intermediate, incremental ones among them): dbt
    # must not run on unlocked, and dies with it
    log = settings.logs_dir / "dbt.log"
    vru = start_vru(env, "build")
    dbt = wait_for(lambda: dbt_holding_the_lock(settings, vru), "dbt holds the lock", process=vru, timeout_s=180)
    wait_for(lambda: models_built_since(log, 0) >= 30, "dbt built 30 models", process=vru, every_s=0.05,
             timeout_s=180)
    kill(vru, group=False)
    assert_no_writer_without_the_lock(settings, [vru.pid, dbt])
    run_vru(env, "build")
    marts = tables_in(clean_run.working_db, "marts")
    assert marts and tables_in(settings.working_db, "marts") == marts
    assert differences(str(settings.working_db), str(clean_run.working_db),
                       [(f"marts.{t}", f"marts.{t}") for t in marts]) == {}

    # publish: a first publish, then SIGKILL to one while it writes its temporary copy
    pipeline.check_raw(settings)
    pipeline.check_marts(settings)
    published = publish(settings)
    before = published.read_bytes()
    folder = published.parent
    vru = start_vru(env, "publish", "--force")      # nothing changed since the publish above
    wait_for(lambda: holds_the_lock(settings, vru.pid), "publish holds the lock", process=vru)
    wait_for(lambda: list(folder.glob(".publishing-*.duckdb")), "publish writes its copy", process=vru,
             every_s=0.0005)
    kill(vru, group=False)
    assert published.read_bytes() == before             # never touched but by the rename
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fct_indicator_value").fetchone()[0] > 0
    assert_no_writer_without_the_lock(settings, [vru.pid])
    # the next writer, whichever it is, removed the killed publish's copy as it took the lock
    assert sorted(p.name for p in folder.iterdir()) == ["vru.duckdb"]
    run_vru(env, "publish")
    # the CLI's publish writes the HTML report beside the file; no temporary copy of either is left
    assert sorted(p.name for p in folder.iterdir()) == ["report", "vru.duckdb"]
    assert differences(str(published), str(clean_run.working_db), [(t, f"marts.{t}") for t in marts]) == {}


# --- Airflow: the task process killed while its dbt writes ---------------------------------------

# stands in for dbt: opens the working file read-write and commits rows until killed
FAKE_DBT = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS written (n INTEGER)")
open(sys.argv[2], "w").close()
n = 0
while True:
    n += 1
    con.execute("INSERT INTO written VALUES (?)", [n])
    time.sleep(0.01)
"""
# stands in for the Airflow task: the dbt operator's own hook, run as the operator runs it (the
# writer lock taken in execute, dbt started through run_subprocess)
TASK = """
import os, sys
from vru_airflow.orchestration import dbt_build_task
from ingestion.warehouse import writer_lock
operator = dbt_build_task()
try:
    operator.subprocess_hook.run_command(["true"])      # outside the lock: refused
except RuntimeError as refused:
    open(sys.argv[3] + ".refused", "w").write(str(refused))
with writer_lock() as lock:
    operator._writer_lock = lock
    operator.run_subprocess([sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]], dict(os.environ), None)
"""


def test_a_killed_airflow_task_takes_its_dbt_with_it_and_dbt_holds_the_lock_until_then(tmp_path):
    """The dbt task's own hook, run in a process standing in for the task: SIGKILL to the task's
    process group (cosmos starts dbt in a session of its own, so only the hook's death signal and
    the inherited lock protect the warehouse). An Airflow run of the real task would cost a
    minute (migrate, parse, dbt); `test_first_day` runs the real task to completion."""
    from ingestion.settings import Settings
    from ingestion.warehouse import lock_holder

    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    settings.warehouse_dir.mkdir(parents=True)
    started = tmp_path / "dbt-started"
    env = {**os.environ, "VRU_WAREHOUSE_DIR": str(settings.warehouse_dir)}
    task = subprocess.Popen([sys.executable, "-c", TASK, FAKE_DBT, str(settings.working_db), str(started)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(started.exists, "the task's dbt writes", process=task, every_s=0.05)
        dbt = holder_record(settings)["pid"]
        assert psutil.Process(dbt).ppid() == task.pid
        # a waiting writer is told the real holder: dbt, run for the task
        holder = lock_holder(settings)
        assert holder.pid == dbt and holder.command.startswith("dbt -c, for ") and f"pid {task.pid}" in holder.command
        assert "writer lock" in Path(f"{started}.refused").read_text()
        kill(task, group=True)
        assert_no_writer_without_the_lock(settings, [task.pid, dbt])
        with duckdb.connect(str(settings.working_db), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM written").fetchone()[0] > 0
    finally:
        if task.poll() is None:
            os.killpg(task.pid, signal.SIGKILL)
            task.wait()
