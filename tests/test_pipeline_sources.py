"""The pipeline's own tables are declared dbt sources: dbt reads which loads count from the one
view Python writes, and `dbt source freshness` reports how recent the deliveries and checks are."""

from __future__ import annotations

import json

import duckdb

from conftest import MINI_LSOAS, write_mini_reference
from test_police_street_load import VIOLENCE, write_street

PIPELINE_TABLES = {"load_manifest", "accepted_load", "load_period", "source_registry", "dbt_built_load",
                   "check_result"}


def test_pipeline_tables_are_sources_with_freshness(warehouse_env, tmp_path):
    from ingestion import pipeline
    from ingestion.transform import run_dbt

    landing = write_mini_reference(tmp_path / "landing")
    write_street(landing / "police", "2025-01", [(MINI_LSOAS[0][:2], VIOLENCE, 3)])
    bad = write_street(landing / "police", "2025-02", [(MINI_LSOAS[0][:2], VIOLENCE, 2)])
    pipeline.load_reference(landing)
    pipeline.ingest_police_street(landing / "police")
    with duckdb.connect(str(warehouse_env.working_db)) as con:
        # February fails its checks: it is loaded, but does not count
        con.execute("UPDATE raw.load_manifest SET check_status = 'failed' WHERE source_file = ?", [bad.name])
    pipeline.check_raw()
    run_dbt(["build"])

    listed = run_dbt(["ls", "--resource-type", "source", "--select", "source:pipeline", "--output", "name"])
    assert {line.split(".")[-1] for line in listed.splitlines() if line.startswith("pipeline.")} == PIPELINE_TABLES

    run_dbt(["source", "freshness", "--select", "source:pipeline", "source:raw.police_street"])
    sources = json.loads((warehouse_env.warehouse_dir / "dbt_target" / "sources.json").read_text())
    status = {r["unique_id"].split(".", 2)[2]: r["status"] for r in sources["results"]}
    # everything was just loaded and checked: fresh
    assert status["pipeline.load_manifest"] == "pass" and status["pipeline.check_result"] == "pass"
    assert status["raw.police_street"] == "pass"

    with duckdb.connect(str(warehouse_env.working_db), read_only=True) as con:
        # which loads count is the view, and staging reads only those
        counted = con.execute("SELECT source_file FROM raw.accepted_load WHERE source = 'police_street'").fetchall()
        staged = con.execute("SELECT DISTINCT source_file FROM staging.stg_police__street").fetchall()
        periods = con.execute("SELECT period_type, period_start::varchar FROM raw.load_period "
                              "JOIN raw.load_manifest USING (load_id) WHERE source = 'police_street' "
                              "ORDER BY 2").fetchall()
    assert counted == staged == [("2025-01-thames-valley-street.csv",)]
    assert periods == [("month", "2025-01-01"), ("month", "2025-02-01")]
