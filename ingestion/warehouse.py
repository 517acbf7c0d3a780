"""Connections to the working DuckDB file, serialised so users never meet a lock error.

DuckDB allows one read-write process per file. Every pipeline writer (loaders, dbt, checks,
publish) takes an exclusive OS file lock first and waits for its turn with a readable message,
instead of failing inside DuckDB. Analysts and BI never open this file: they open the published
copy (see publish.py), which is replaced atomically.

The writer holding the lock writes who it is into the lock file (pid, a short command line and
when it took the lock), so a writer that has to wait can say whom it is waiting for.

Crash safety (SIGKILL to a command, its process group or an Airflow task): the lock is an flock on
an open file description, so the kernel drops it when the last process holding that description
ends, never while one still writes. A writer that runs another process to do the writing (dbt)
starts it with `writer_child`: the child inherits the locked descriptor, so the lock stays held
until the child too has ended, and it dies with its parent (Linux PR_SET_PDEATHSIG), so killing
the command stops the writing instead of leaving an orphan that runs on unseen. The lock file
then names the child (dbt's pid) as the holder while it runs.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from ingestion.errors import VruError
from ingestion.settings import Settings, get_settings

log = logging.getLogger(__name__)


class WarehouseBusy(VruError):
    """Another pipeline writer held the warehouse for longer than we were willing to wait."""

    hint = "wait for the writer named above to finish (`vru status`, running Airflow tasks), then run this again"


@dataclass(frozen=True)
class LockHolder:
    """Who holds the writer lock, as the holder wrote it into the lock file."""

    pid: int | None
    command: str
    since: datetime | None

    def describe(self) -> str:
        pid = f"pid {self.pid}" if self.pid is not None else "another process"
        command = f" ({self.command})" if self.command else ""
        since = f" since {self.since:%H:%M:%S}" if self.since else ""
        if self.since and self.since.date() != datetime.now().date():
            since = f" since {self.since:%Y-%m-%d %H:%M:%S}"
        return f"held by {pid}{command}{since}"


def _short_command(limit: int = 60) -> str:
    """The running program as a person would type it: `vru build`, `airflow tasks run …`, `python -c`."""
    argv = list(sys.argv) or ["python"]
    program = Path(argv[0]).name if argv[0] not in ("", "-c", "-m") else f"python {argv[0]}".strip()
    words = [program, *(a for a in argv[1:3] if not a.startswith("/"))]
    text = " ".join(w for w in words if w)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _write_holder(handle, pid: int, command: str, since: datetime) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": pid, "command": command, "since": since.isoformat(timespec="seconds")}))
    handle.flush()


def _read_holder(handle) -> LockHolder:
    """What the holder wrote (read through our own handle; the lock is advisory, reading is allowed)."""
    try:
        handle.seek(0)
        info = json.loads(handle.read() or "{}")
        since = datetime.fromisoformat(info["since"]) if info.get("since") else None
        return LockHolder(info.get("pid"), str(info.get("command") or ""), since)
    except (ValueError, TypeError, OSError):
        return LockHolder(None, "", None)


def lock_holder(settings: Settings | None = None) -> LockHolder | None:
    """Who holds the writer lock now, or None when the warehouse is free."""
    settings = settings or get_settings()
    if not settings.lock_file.exists():
        return None
    with open(settings.lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(handle)
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class WriterLock:
    """The writer lock while we hold it: what `writer_lock` yields, for starting a child that writes
    under it (`writer_child`)."""

    def __init__(self, handle, since: datetime) -> None:
        self._handle = handle
        self.since = since
        self.command = _short_command()

    def fileno(self) -> int:
        return self._handle.fileno()

    def record_holder(self, pid: int | None = None, command: str | None = None) -> None:
        """Name the process that holds the lock in the lock file (ourselves unless told)."""
        _write_holder(self._handle, pid or os.getpid(), command or self.command, self.since)


def remove_partial_publications(settings: Settings, name: str = ".publishing-") -> None:
    """Temporary copies a publish writes (and DuckDB's .wal beside them) whose names start with
    `name`. Called by every writer as it takes the lock, when none can still be in use: a publish
    writes and renames its copy under the lock, so one left behind is a killed publish's."""
    for leftover in settings.published_db.parent.glob(f"{name}*"):
        leftover.unlink(missing_ok=True)


@contextmanager
def writer_lock(settings: Settings | None = None, timeout_s: float = 1800.0) -> Iterator[WriterLock]:
    """Hold the single-writer lock on the working warehouse (waits up to `timeout_s`, saying once
    who holds it, and again if the holder changes)."""
    settings = settings or get_settings()
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.lock_file, "a+") as handle:
        started = time.monotonic()
        deadline = started + timeout_s
        announced = None
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(handle)
                if time.monotonic() > deadline:
                    raise WarehouseBusy(
                        f"another pipeline step has been writing to {settings.working_db} for "
                        f"more than {timeout_s:.0f}s ({holder.describe()}); check `vru status` or running Airflow tasks"
                    ) from None
                # the holder writes its name just after taking the lock: give it a moment
                if holder != announced and (holder.pid is not None or time.monotonic() - started > 2):
                    log.warning("waiting for the warehouse: %s", holder.describe())
                    announced = holder
                time.sleep(0.5)
        if announced is not None:   # the logger, so an Airflow task's log shows the wait too
            log.warning("got the warehouse after waiting %.0fs", time.monotonic() - started)
        try:
            lock = WriterLock(handle, datetime.now())
            lock.record_holder()
            remove_partial_publications(settings)
            yield lock
        finally:
            try:
                handle.seek(0)
                handle.truncate()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


_PR_SET_PDEATHSIG = 1
try:    # loaded here, not in the forked child
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):
    _prctl = None


def dies_with_parent():
    """A `preexec_fn` making the child get SIGKILL when the process starting it ends (Linux's
    PR_SET_PDEATHSIG: strictly, when the starting *thread* ends, so start children from a thread
    that outlives them, as a caller waiting for its child does). A parent already gone by then
    (killed between fork and prctl) kills the child at once. Elsewhere a no-op but for that check."""
    parent = os.getpid()

    def preexec() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
    return preexec


@contextmanager
def writer_child(command: Sequence[str], lock: WriterLock, name: str, *, new_session: bool = False,
                 stop_timeout_s: float = 30.0, **popen) -> Iterator[subprocess.Popen]:
    """Start `command` (dbt) to write the warehouse under our lock. The child inherits the locked
    file description (so the lock is held until it ends, whoever is killed first), is killed if we
    die, and is named in the lock file as the holder while it runs (`name`, e.g. "dbt build", with
    our own command and pid). Leaving the block waits for the child; if we leave early (an
    exception, Ctrl-C) the child is stopped first, since releasing the lock would release it for
    the child too. `new_session` puts it in a session of its own (cosmos does, to signal dbt's
    group on a task's kill); otherwise it stays in ours, so Ctrl-C or a signal to our group
    reaches it."""
    child = subprocess.Popen(list(command), pass_fds=(lock.fileno(),), preexec_fn=dies_with_parent(),
                             start_new_session=new_session, **popen)
    try:
        lock.record_holder(child.pid, f"{name}, for {lock.command} pid {os.getpid()}")
        yield child
    finally:
        try:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(stop_timeout_s)
                except subprocess.TimeoutExpired:
                    child.kill()
            child.wait()
        finally:
            lock.record_holder()


@contextmanager
def writer(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the working warehouse, under the writer lock."""
    settings = settings or get_settings()
    with writer_lock(settings):
        con = connect_working(settings)
        try:
            yield con
        finally:
            con.close()


def connect_working(settings: Settings, wait_s: float = 10.0) -> duckdb.DuckDBPyConnection:
    """Open the working file read-write, only under the writer lock (`writer` takes it). DuckDB's
    own file lock is a second lock: a writer killed a moment ago (or its dbt, killed with it) may
    still hold it for the instant the kernel takes to close its files after ours is dropped, so a
    lock conflict is retried briefly."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return duckdb.connect(str(settings.working_db), config={"memory_limit": settings.duckdb_memory_limit})
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def reader(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection (for the published file, or the working file when idle)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()
