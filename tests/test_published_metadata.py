"""The published file holds names, counts, rules and outcomes about the deliveries, never a row
of a delivered file or a path on the machine that loaded it; and publishing leaves no temporary
file behind, whatever fails.

Fixture: the mini geography, January's street file, and two force extracts (tests/test_force_crime.py
layout): January's loads; February's is refused by a row rule (victim age 230) on a row whose
crime reference is SECRET. February's street file first arrives with its map points in the
Atlantic (GX fails it, naming sample longitudes) and is then corrected under the same name.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from conftest import MINI_LSOAS, write_mini_reference
from test_force_crime import FEBRUARY, JANUARY, write_tvp
from test_police_street_load import VIOLENCE, write_street

A = MINI_LSOAS[0][:2]
SECRET = "TVSECRET0042"
ATLANTIC = "-30.123456"
REFUSED = "TVP_Crime_Extract_2025-02.csv"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("metadata")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VRU_WAREHOUSE_DIR", str(root / "warehouse"))
        from ingestion import pipeline
        from ingestion.publish import publish
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        write_street(landing / "police", "2025-01", [(A, VIOLENCE, 11)])
        extracts = landing / "force_crime" / "thames-valley"
        write_tvp(extracts, "2025-01", JANUARY)
        refused = write_tvp(extracts, "2025-02", FEBRUARY)
        first = refused.read_text().splitlines(keepends=True)
        first[1] = first[1].replace("TV20250200001", SECRET).replace(",Yes,18,", ",Yes,230,")
        refused.write_text("".join(first))

        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        with pytest.raises(pipeline.DeliveriesRejected, match=REFUSED):
            pipeline.ingest_force_crime(extracts)
        pipeline.check_raw()
        atlantic = write_street(landing / "police", "2025-02", [(A, VIOLENCE, 4)])
        atlantic.write_text(atlantic.read_text().replace("-0.971000", ATLANTIC))
        pipeline.ingest_police_street(atlantic)
        with pytest.raises(pipeline.ChecksFailed):
            pipeline.check_raw()
        corrected = write_street(landing / "police", "2025-02", [(A, VIOLENCE, 4)])
        pipeline.ingest_police_street(corrected)
        pipeline.check_raw()
        run_dbt(["build"])
        pipeline.check_marts()
        publish()
        yield root, get_settings()


def test_the_working_warehouse_keeps_the_detail(warehouse):
    """What must not be published is there to be kept out (else the next test proves nothing)."""
    _, settings = warehouse
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        message, path = con.execute("SELECT message, source_path FROM raw.load_manifest WHERE source_file = ?",
                                    [REFUSED]).fetchone()
        failures = con.execute("SELECT string_agg(failures, ' ') FROM raw.check_result").fetchone()[0]
    assert SECRET in message and path == str(settings.warehouse_dir.parent / "landing" / "force_crime" /
                                               "thames-valley" / REFUSED)
    assert ATLANTIC in failures


def test_no_published_cell_holds_a_row_of_a_delivery_or_a_machine_path(warehouse):
    root, settings = warehouse
    private = [SECRET, ATLANTIC, str(root)]
    found = []
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                              "WHERE table_schema = 'main' ORDER BY ALL").fetchall()
        for table, column in columns:
            hits = con.execute(f'SELECT count(*) FROM "{table}" WHERE ' + " OR ".join(
                f'contains(CAST("{column}" AS VARCHAR), ?)' for _ in private), private).fetchone()[0]
            if hits:
                found.append((table, column, hits))
        varchar = {t for t, c in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                             "WHERE data_type = 'VARCHAR'").fetchall()}
        refusal = con.execute("SELECT outcome, message, refused_rule, refused_row FROM load_manifest "
                              "WHERE source_file = ?", [REFUSED]).fetchone()
        manifest_columns = {r[0] for r in con.execute("DESCRIBE load_manifest").fetchall()}
        gx = con.execute("SELECT failures FROM check_result WHERE NOT success").fetchall()
    assert len(columns) > 50 and {"load_manifest", "check_result", "dim_area"} <= varchar
    assert found == []
    assert refusal == ("rejected", f"{REFUSED}, row 1: rule 'victim_age_valid' failed", "victim_age_valid", 1)
    assert "source_path" not in manifest_columns
    assert len(gx) == 1 and "expect_column_values_to_be_between(longitude) failed — 4 unexpected value(s)" in gx[0][0]


def test_status_reads_the_published_metadata_when_the_warehouse_is_busy(warehouse):
    """`vru status` falls back to the published load_manifest and check_result: it still reads them."""
    _, settings = warehouse
    holder = duckdb.connect(str(settings.working_db))       # a writer holding DuckDB's own lock
    try:
        done = subprocess.run([str(Path(sys.executable).with_name("vru")), "status"], capture_output=True, text=True,
                              env={**os.environ, "VRU_WAREHOUSE_DIR": str(settings.warehouse_dir), "COLUMNS": "200"},
                              check=False)
    finally:
        holder.close()
    assert done.returncode == 0, done.stdout + done.stderr
    shown = " ".join(done.stdout.split())
    assert "pipeline busy: showing the last published state" in shown
    assert f"rejected {REFUSED}: {REFUSED}, row 1: rule 'victim_age_valid' failed" in shown
    assert SECRET not in shown and "check fct_indicator_value: passed" in shown


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _FailingOn:
    """A connection whose statements starting with `prefix` fail as a full disk would."""

    def __init__(self, con, prefix: str):
        self._con, self._prefix = con, prefix

    def execute(self, sql, *args):
        if sql.lstrip().startswith(self._prefix):
            raise duckdb.IOException(f"No space left on device (test: {self._prefix})")
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


@pytest.mark.parametrize("failing", ["CREATE TABLE published.main.dim_area", "CREATE TABLE published.main.check_result",
                                     "CREATE VIEW", "DETACH", "os.replace"])
def test_a_failed_publish_leaves_no_temporary_file_and_the_published_file_unchanged(warehouse, monkeypatch, failing):
    import ingestion.publish as publishing

    _, settings = warehouse
    folder = settings.published_db.parent
    before = _digest(settings.published_db)
    # left by a publish killed earlier (the copy and DuckDB's write-ahead log beside it)
    (folder / ".publishing-killed.duckdb").write_bytes(b"partial")
    (folder / ".publishing-killed.duckdb.wal").write_bytes(b"partial")
    if failing == "os.replace":
        def replace(*_):
            raise OSError(28, "No space left on device (test)")
        monkeypatch.setattr(publishing.os, "replace", replace)
    else:
        real = publishing.writer

        @contextmanager
        def writer(settings=None):
            with real(settings) as con:
                yield _FailingOn(con, failing)
        monkeypatch.setattr(publishing, "writer", writer)
    with pytest.raises((duckdb.Error, OSError), match="No space left on device"):
        publishing.publish(settings, force=True)     # nothing changed since the fixture published
    assert sorted(p.name for p in folder.iterdir()) == ["vru.duckdb"]
    assert _digest(settings.published_db) == before
    monkeypatch.undo()
    publishing.publish(settings, force=True)     # and the next publish goes through
    assert sorted(p.name for p in folder.iterdir()) == ["vru.duckdb"]
