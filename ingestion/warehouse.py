"""Connections to the working DuckDB file, serialised so users never meet a lock error.

DuckDB allows one read-write process per file. Every pipeline writer (loaders, dbt, checks,
publish) takes an exclusive OS file lock first and waits for its turn with a readable message,
instead of failing inside DuckDB. Analysts and BI never open this file: they open the published
copy (see publish.py), which is replaced atomically.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ingestion.errors import VruError
from ingestion.settings import Settings, get_settings


class WarehouseBusy(VruError):
    """Another pipeline writer held the warehouse for longer than we were willing to wait."""


@contextmanager
def writer_lock(settings: Settings | None = None, timeout_s: float = 1800.0) -> Iterator[None]:
    """Hold the single-writer lock on the working warehouse (waits up to `timeout_s`)."""
    settings = settings or get_settings()
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.lock_file, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusy(
                        f"another pipeline step has been writing to {settings.working_db} for "
                        f"more than {timeout_s:.0f}s; check `vru status` or running Airflow tasks"
                    ) from None
                time.sleep(0.5)
        try:
            yield
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
