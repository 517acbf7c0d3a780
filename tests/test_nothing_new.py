"""A run with nothing new does no dbt work and rewrites nothing (ingestion/build_state.py), from the
CLI (`vru refresh`) as from the DAGs' tail; something new — a delivery, a changed dbt project —
is seen and built."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from conftest import MINI_LSOAS, write_mini_reference
from test_police_street_load import VIOLENCE, write_street

A = MINI_LSOAS[0][:2]


def _vru(args: list[str], warehouse: Path) -> str:
    env = {**os.environ, "VRU_WAREHOUSE_DIR": str(warehouse), "COLUMNS": "200"}
    done = subprocess.run([str(Path(sys.executable).with_name("vru")), *args], env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join(done.stdout.split())


def _state(settings) -> dict:
    """What a run may write: builds started, checks recorded, the published file and the report."""
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        builds = con.execute("SELECT started_at FROM raw.dbt_build_started").fetchall()
        checks = con.execute("SELECT count(*) FROM raw.check_result").fetchone()[0]
    published = settings.published_db.stat()
    report = settings.published_db.parent / "report" / "index.html"
    return {"builds": builds, "checks": checks, "published": (published.st_ino, published.st_mtime_ns),
            "report": report.stat().st_mtime_ns}


def test_refresh_with_nothing_new_runs_no_dbt_and_rewrites_nothing(warehouse_env, tmp_path):
    from ingestion import build_state, pipeline

    landing = write_mini_reference(tmp_path / "landing")
    write_street(landing / "police", "2025-01", [(A, VIOLENCE, 11)])
    pipeline.load_reference(landing)
    pipeline.ingest_police_street(landing / "police")
    warehouse = warehouse_env.warehouse_dir

    first = _vru(["refresh"], warehouse)
    assert "dbt build: models built and tested (no complete build is recorded yet)" in first
    before = _state(warehouse_env)

    again = _vru(["refresh"], warehouse)
    assert "no new deliveries to check" in again
    assert "dbt build: nothing new since the last build: dbt not run" in again
    assert "not rebuilt since their last passing check" in again
    assert "unchanged: nothing new since the last publish" in again
    assert _state(warehouse_env) == before

    # a new month is new: built (only its periods), checked, published
    write_street(landing / "police", "2025-02", [(A, VIOLENCE, 12)])
    pipeline.ingest_police_street(landing / "police", month="2025-02")
    pipeline.check_raw()
    with duckdb.connect(str(warehouse_env.working_db), read_only=True) as con:
        assert build_state.build_needed(con) == "deliveries changed since the last build: 1 added"
    third = _vru(["refresh"], warehouse)
    assert "models built and tested (deliveries changed since the last build: 1 added; only what they reach)" in third
    after = _state(warehouse_env)
    assert len(after["builds"]) == 1 and after["builds"] != before["builds"]
    assert after["published"] != before["published"] and after["checks"] > before["checks"]
    with duckdb.connect(str(warehouse_env.published_db), read_only=True) as con:
        assert con.execute("SELECT numerator FROM fct_indicator_value WHERE indicator_id = 'violence_offences_rate' "
                           "AND area_type = 'lsoa' AND area_code = ? AND period_type = 'month' "
                           "AND period_start = DATE '2025-02-01'", [A[0]]).fetchall() == [(12,)]


def test_a_changed_dbt_project_needs_a_build(tmp_path):
    """The fingerprint covers every file dbt builds from: an edited model, a new macro."""
    from ingestion.build_state import project_fingerprint
    from ingestion.settings import DBT_PROJECT_DIR

    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs"))
    original = project_fingerprint(project)
    assert original == project_fingerprint(DBT_PROJECT_DIR)
    model = next((project / "models" / "marts").glob("*.sql"))
    model.write_text(model.read_text() + "\n-- edited\n")
    edited = project_fingerprint(project)
    (project / "macros" / "new_macro.sql").write_text("{% macro x() %}1{% endmacro %}")
    assert len({original, edited, project_fingerprint(project)}) == 3
    last = project_fingerprint(project)
    (project / "target").mkdir(exist_ok=True)
    (project / "target" / "manifest.json").write_text("{}")          # dbt's output is not the project
    assert project_fingerprint(project) == last


def test_files_found_again_unchanged_are_not_read_and_a_changed_one_is(warehouse_env, tmp_path, monkeypatch):
    """A scheduled run finds every delivered file again: one with the size and modification time
    it had when loaded is not hashed again; one rewritten (same size, new content) is hashed,
    seen to differ and loaded in place of the old."""
    from ingestion import load, pipeline

    landing = write_mini_reference(tmp_path / "landing")
    january = write_street(landing / "police", "2025-01", [(A, VIOLENCE, 11)])
    february = write_street(landing / "police", "2025-02", [(A, VIOLENCE, 11)])
    pipeline.ingest_police_street(landing / "police")

    hashed: list[str] = []
    real = load.sha256_of
    monkeypatch.setattr(load, "sha256_of", lambda path: hashed.append(Path(path).name) or real(path))
    again = pipeline.ingest_police_street(landing / "police")
    assert {r.outcome for r in again.results} == {"unchanged"} and hashed == []

    text = february.read_text()
    february.write_text(text.replace("On or near", "On or nea_", 1))      # same size, new bytes
    assert len(february.read_text()) == len(text)
    os.utime(february, ns=(february.stat().st_atime_ns, february.stat().st_mtime_ns + 1_000_000_000))
    third = pipeline.ingest_police_street(landing / "police")
    assert hashed == [february.name]
    assert {r.file.name: r.outcome for r in third.results} == {january.name: "unchanged", february.name: "loaded"}
