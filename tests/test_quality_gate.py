"""Bad data is stopped with a clear reason and never reaches what analysts see."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import MINI_LSOAS, write_mini_reference
from test_police_street_load import VIOLENCE, write_street

A = MINI_LSOAS[0][:2]


def test_batch_failing_gx_is_kept_out_of_marts_and_publishing_is_refused(warehouse_env, tmp_path):
    from ingestion import pipeline
    from ingestion.publish import PublishRefused, publish
    from ingestion.transform import run_dbt

    landing = write_mini_reference(tmp_path / "landing")
    good = write_street(landing / "police", "2025-01", [(A, VIOLENCE, 11)])
    pipeline.load_reference(landing)
    pipeline.ingest_police_street(good)
    pipeline.check_raw()

    # February passes the loader's rules (numbers, a month) but its map points are in the
    # Atlantic: the raw expectation on longitude must stop it.
    bad = write_street(landing / "police", "2025-02", [(A, VIOLENCE, 4)])
    bad.write_text(bad.read_text().replace("-0.971000", "-30.000000"))
    pipeline.ingest_police_street(bad)
    with pytest.raises(pipeline.ChecksFailed) as failed:
        pipeline.check_raw()
    assert "expect_column_values_to_be_between(longitude)" in str(failed.value)
    assert "4 unexpected" in str(failed.value)

    run_dbt(["build"])
    with duckdb.connect(str(warehouse_env.working_db), read_only=True) as con:
        months = con.execute("SELECT DISTINCT strftime(month_start, '%Y-%m') FROM marts.fct_police_crime_lsoa_month").fetchall()
        statuses = dict(con.execute("SELECT source_file, check_status FROM raw.load_manifest "
                                    "WHERE source = 'police_street'").fetchall())
    assert months == [("2025-01",)]
    assert statuses == {good.name: "passed", bad.name: "failed"}
    pipeline.check_marts()
    with pytest.raises(PublishRefused, match=r"2025-02-thames-valley-street.csv"):
        publish()
    assert not warehouse_env.published_db.exists()


def test_cli_exits_non_zero_naming_file_row_and_rule(tmp_path):
    landing = write_mini_reference(tmp_path / "landing")
    bad = write_street(landing / "police", "2025-03", [(A, VIOLENCE, 2)])
    bad.write_text(bad.read_text().replace(",2025-03,", ",2025-04,", 1))
    env = {**os.environ, "VRU_WAREHOUSE_DIR": str(tmp_path / "warehouse"), "COLUMNS": "200"}
    vru = Path(sys.executable).with_name("vru")
    done = subprocess.run([str(vru), "ingest", "police-street", str(bad)], env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 1
    output = " ".join(done.stdout.split())
    assert "2025-03-thames-valley-street.csv, row 1: rule 'month_matches_file_name' failed" in output
    assert "earlier loads are unchanged" in output


def test_pending_deliveries_are_checked_together_and_only_the_failing_one_is_held_back(warehouse_env, tmp_path):
    """GX validates a source's new deliveries together; when they fail, halving finds the bad
    delivery: it alone is held back, the good one passes, each with its own recorded result, and
    the mart check is one result."""
    from ingestion import pipeline
    from ingestion.transform import run_dbt

    landing = write_mini_reference(tmp_path / "landing")
    good = write_street(landing / "police", "2025-01", [(A, VIOLENCE, 11)])
    bad = write_street(landing / "police", "2025-02", [(A, VIOLENCE, 4)])
    bad.write_text(bad.read_text().replace("-0.971000", "-30.000000"))
    pipeline.load_reference(landing)
    pipeline.ingest_police_street(landing / "police")
    with pytest.raises(pipeline.ChecksFailed, match="4 unexpected"):
        pipeline.check_raw()
    with duckdb.connect(str(warehouse_env.working_db), read_only=True) as con:
        statuses = dict(con.execute("SELECT source_file, check_status FROM raw.load_manifest "
                                    "WHERE source = 'police_street'").fetchall())
        checks = con.execute("SELECT rows_checked, success FROM raw.check_result ORDER BY checked_at").fetchall()
    assert statuses == {good.name: "passed", bad.name: "failed"}
    assert checks == [(11, True), (4, False)]

    run_dbt(["build"])
    assert "indicator values passed" in pipeline.check_marts()
    with duckdb.connect(str(warehouse_env.working_db), read_only=True) as con:
        expected = con.execute("SELECT count(*) FROM marts.fct_indicator_value").fetchone()[0]
        last = con.execute("SELECT rows_checked, success FROM raw.check_result WHERE suite = 'fct_indicator_value'").fetchall()
    assert last == [(expected, True)] and expected > 5
