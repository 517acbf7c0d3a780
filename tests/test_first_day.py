"""A fresh warehouse and a busy one: the first day's commands say what is there instead of
crashing, and a writer that has to wait says whom it waits for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import duckdb
import pytest

from conftest import MINI_LSOAS, write_mini_reference
from test_police_street_load import VIOLENCE, write_street

A = MINI_LSOAS[0][:2]
TASKS = ["load_reference", "check_raw", "dbt_build", "check_marts", "publish", "report"]


def test_check_on_raw_data_before_any_build_checks_the_raw_data_and_says_the_marts_are_not_built(
        warehouse_env, tmp_path):
    from typer.testing import CliRunner

    from ingestion import pipeline
    from ingestion.cli import app

    landing = write_mini_reference(tmp_path / "landing")
    street = write_street(landing / "police", "2025-01", [(A, VIOLENCE, 11)])
    pipeline.load_reference(landing)
    pipeline.ingest_police_street(street)
    done = CliRunner().invoke(app, ["check"], terminal_width=200)
    output = " ".join(done.output.split())
    assert done.exit_code == 0, done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)
    assert "✓ Checking new raw deliveries: police_street: 1 deliveries, 11 rows passed" in output
    assert "Checking the marts: not built yet, nothing to check" in output
    assert "run `vru build`, then `vru check` again" in output
    with duckdb.connect(str(warehouse_env.working_db), read_only=True) as con:
        assert con.execute("SELECT check_status FROM raw.load_manifest WHERE source = 'police_street'").fetchall() \
            == [("passed",)]
        # nothing about the marts was recorded: there was nothing to check
        assert con.execute("SELECT count(*) FROM raw.check_result WHERE suite = 'fct_indicator_value'").fetchone() == (0,)


def _empty_mart(settings, delivered_source: str | None) -> None:
    """A built-but-empty indicator mart (its contract's columns), and optionally an accepted
    delivery of a source indicators are counted from."""
    from ingestion.load import MANIFEST_DDL

    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.working_db)) as con:
        con.execute(MANIFEST_DDL)
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.fct_indicator_value (indicator_id VARCHAR, area_code VARCHAR)")
        for source, check in [("ons_lsoa21_lad", "not_required")] + ([(delivered_source, "passed")] if delivered_source else []):
            con.execute("INSERT INTO raw.load_manifest (load_id, source, source_file, source_path, source_sha256, "
                        "started_at, finished_at, outcome, check_status) VALUES "
                        "(?, ?, 'f.csv', '/x/f.csv', 'sha', now(), now(), 'loaded', ?)", [source, source, check])


def test_an_empty_mart_passes_as_nothing_to_check_only_when_no_source_delivered_data(warehouse_env):
    from ingestion import pipeline

    _empty_mart(warehouse_env, None)
    assert "nothing to check" in pipeline.check_marts()
    with duckdb.connect(str(warehouse_env.working_db), read_only=True) as con:
        assert con.execute("SELECT success, rows_checked, failures FROM raw.check_result").fetchall() == [(True, 0, None)]


def test_an_empty_mart_fails_when_a_source_has_delivered_data(warehouse_env):
    from ingestion import pipeline

    _empty_mart(warehouse_env, "police_street")
    with pytest.raises(pipeline.ChecksFailed, match="fct_indicator_value"):
        pipeline.check_marts()
    with duckdb.connect(str(warehouse_env.working_db), read_only=True) as con:
        assert con.execute("SELECT success, rows_checked FROM raw.check_result").fetchall() == [(False, 0)]


def test_reference_dag_on_a_fresh_warehouse_ends_green_and_publishes_the_reference_marts(tmp_path):
    """Through Airflow: only ONS reference data, no police data yet (a first day)."""
    from ingestion.settings import Settings
    from vru_airflow.runner import run_dag_test

    landing = write_mini_reference(tmp_path / "landing")
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    outcome = run_dag_test("reference_geography", {"landing_dir": str(landing)}, settings)
    assert outcome.task_states == dict.fromkeys(TASKS, "success"), "\n".join(outcome.error_lines)
    assert outcome.succeeded
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        lads = con.execute("SELECT count(*) FROM dim_area WHERE area_type = 'lad'").fetchone()[0]
        values = con.execute("SELECT count(*) FROM fct_indicator_value").fetchone()[0]
        checks = con.execute("SELECT success, rows_checked FROM check_result WHERE suite = 'fct_indicator_value'").fetchall()
    assert (lads, values, checks) == (2, 0, [(True, 0)])
    assert not list(settings.published_db.parent.glob(".publishing-*"))


HOLD = ("import sys, time\n"
        "from pathlib import Path\n"
        "from ingestion.settings import Settings\n"
        "from ingestion.warehouse import writer_lock\n"
        "with writer_lock(Settings(warehouse_dir=Path(sys.argv[1]))):\n"
        "    print('holding', flush=True)\n"
        "    time.sleep(60)\n")


def test_a_waiting_writer_says_who_holds_the_warehouse_and_since_when(tmp_path, caplog):
    from ingestion.settings import Settings
    from ingestion.warehouse import WarehouseBusy, lock_holder, writer_lock

    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    assert lock_holder(settings) is None
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(settings.warehouse_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        taken = time.strftime("%H:%M:%S")
        who = lock_holder(settings)
        assert who is not None and who.pid == holder.pid and who.command == "python -c"
        caplog.set_level("WARNING", logger="ingestion.warehouse")
        with pytest.raises(WarehouseBusy) as busy:
            with writer_lock(settings, timeout_s=1.5):
                pytest.fail("the lock was taken while another process held it")
        said = f"held by pid {holder.pid} (python -c) since "
        waiting = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for the warehouse")]
        assert len(waiting) == 1 and waiting[0].startswith(f"waiting for the warehouse: {said}")
        since = re.search(r"since (\d\d:\d\d:\d\d)", waiting[0]).group(1)
        assert abs(_seconds(since) - _seconds(taken)) <= 2
        assert said + since in str(busy.value)
    finally:
        holder.kill()
        holder.wait()
    # once the holder is gone the lock is free, and taking it leaves no holder behind
    with writer_lock(settings, timeout_s=5):
        assert lock_holder(settings).pid == os.getpid()
    assert lock_holder(settings) is None and settings.lock_file.read_text() == ""


def _seconds(clock: str) -> int:
    h, m, s = map(int, clock.split(":"))
    return h * 3600 + m * 60 + s
