"""Connections to the working DuckDB file, serialised so users never meet a lock error.

DuckDB allows one read-write process per file. Every pipeline writer (loaders, dbt, checks,
publish) takes an exclusive OS file lock first and waits for its turn with a readable message,
instead of failing inside DuckDB. Analysts and BI never open this file: they open the published
copy (see publish.py), which is replaced atomically.

The writer holding the lock writes who it is into the lock file (pid, a short command line and
when it took the lock), so a writer that has to wait can say whom it is waiting for.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
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


def _write_holder(handle) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "command": _short_command(),
                             "since": datetime.now().isoformat(timespec="seconds")}))
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


@contextmanager
def writer_lock(settings: Settings | None = None, timeout_s: float = 1800.0) -> Iterator[None]:
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
        try:
            _write_holder(handle)
            yield
        finally:
            try:
                handle.seek(0)
                handle.truncate()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def writer(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the working warehouse, under the writer lock."""
    settings = settings or get_settings()
    with writer_lock(settings):
        con = duckdb.connect(str(settings.working_db), config={"memory_limit": settings.duckdb_memory_limit})
        try:
            yield con
        finally:
            con.close()


@contextmanager
def reader(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection (for the published file, or the working file when idle)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()
