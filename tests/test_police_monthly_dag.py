"""The monthly police DAG through Airflow: the run's data interval decides the month loaded."""

from __future__ import annotations

import duckdb

from conftest import MINI_LSOAS, write_mini_reference
from ingestion.settings import Settings
from test_police_street_load import VIOLENCE, write_street
from vru_airflow.runner import run_dag_test

A = MINI_LSOAS[0][:2]


def loads(settings):
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        return con.execute("""SELECT source_file, outcome FROM raw.load_manifest
                              WHERE source = 'police_street' ORDER BY 1""").fetchall(), \
               con.execute("SELECT count(*) FROM raw.police_street").fetchone()[0]


def test_each_run_loads_its_interval_month_once(tmp_path, monkeypatch):
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(settings.warehouse_dir))
    from ingestion import pipeline

    landing = write_mini_reference(tmp_path / "landing")
    write_street(landing / "police", "2025-01", [(A, VIOLENCE, 11)])
    write_street(landing / "police", "2025-02", [(A, VIOLENCE, 13)])
    pipeline.load_reference(landing, settings)

    february = run_dag_test("police_street_monthly", {"landing_dir": str(landing)}, settings,
                            logical_date="2025-02-01")
    assert february.succeeded, "\n".join(february.error_lines)
    assert loads(settings) == ([("2025-02-thames-valley-street.csv", "loaded")], 13)
    assert settings.published_db.exists()
    published = settings.published_db.stat()

    # the same interval again: nothing new, so dbt is skipped and nothing is rewritten
    again = run_dag_test("police_street_monthly", {"landing_dir": str(landing)}, settings,
                         logical_date="2025-02-01")
    assert again.succeeded, "\n".join(again.error_lines)
    assert loads(settings) == ([("2025-02-thames-valley-street.csv", "loaded")], 13)
    assert again.task_states["dbt_build"] == "skipped"
    assert {again.task_states[t] for t in ("check_raw", "check_marts", "publish", "report")} == {"success"}
    assert (settings.published_db.stat().st_ino, settings.published_db.stat().st_mtime_ns) == \
        (published.st_ino, published.st_mtime_ns)

    # January, backfilled: only what street files reach is built (cosmos passes the selection),
    # and the build is recorded as complete, so the published marts hold both months
    january = run_dag_test("police_street_monthly", {"landing_dir": str(landing)}, settings,
                           logical_date="2025-01-01")
    assert january.succeeded, "\n".join(january.error_lines)
    assert january.task_states["dbt_build"] == "success"
    log = january.log_file.read_text()
    assert "selecting tag:refresh_scope tag:delivery_state+ source:*.police_street+" in log
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM intermediate.int_refresh__changed_load").fetchone()[0] == 0
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        assert con.execute("""SELECT month_start::varchar, sum(crime_count) FROM fct_police_crime_lsoa_month
                              GROUP BY ALL ORDER BY 1""").fetchall() == [("2025-01-01", 11), ("2025-02-01", 13)]
