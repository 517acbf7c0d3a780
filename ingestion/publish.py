"""Publish the marts as a separate read-only DuckDB file for analysts and BI tools.

The copy is written to a temporary file and moved into place with an atomic rename, so a reader
never sees a half-written file and readers that already have the old file open keep reading it
while the pipeline goes on writing the working warehouse. The file is written in DuckDB 1.4's
storage format because BI drivers still pin DuckDB 1.x (STACK_NOTES.md).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from ingestion.errors import VruError
from ingestion.settings import Settings, get_settings
from ingestion.warehouse import writer

PUBLISHED_STORAGE_VERSION = "v1.4.0"
# pipeline metadata published beside the marts so `vru status` and analysts can see provenance
PUBLISHED_METADATA = {"load_manifest": "raw.load_manifest", "check_result": "raw.check_result"}
# Views written into the published file over its own tables (docs/architecture.md). A unitary
# authority is a district (lad) and an upper tier (utla) under one code, with the same values:
# an analyst filtering on area_code alone would count it twice in fct_indicator_value. This view
# keeps one row per code (the district row stands for both; dim_area.also_published_as says so).
PUBLISHED_VIEWS = {
    "indicator_value_by_area_code": """
        SELECT * FROM fct_indicator_value AS v
        WHERE NOT (v.area_type = 'utla' AND EXISTS (
            SELECT 1 FROM dim_area AS a WHERE a.area_code = v.area_code AND a.area_type = 'lad'))""",
}


class PublishRefused(VruError):
    hint = "see `vru status` and the Data Docs; the published warehouse is unchanged"


def _assert_checks_passed(con) -> None:
    """Publishing is allowed only when every accepted delivery of a source gated by Great
    Expectations (its declaration names a suite) and the marts passed their checks."""
    from ingestion.sources import gated_sources

    unchecked = con.execute(
        "SELECT source_file, check_status FROM raw.load_manifest "
        "WHERE outcome = 'loaded' AND source IN (SELECT unnest(?::VARCHAR[])) AND check_status <> 'passed' "
        "ORDER BY 1 LIMIT 5", [[s.name for s in gated_sources()]]
    ).fetchall()
    if unchecked:
        raise PublishRefused(f"deliveries not passed by the data checks: {unchecked}")
    last = con.execute(
        "SELECT success, failures FROM raw.check_result WHERE suite = 'fct_indicator_value' "
        "ORDER BY checked_at DESC LIMIT 1"
    ).fetchone()
    if last is None or not last[0]:
        raise PublishRefused(f"the marts have not passed their checks (last result: {last})")


def publish(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    target = settings.published_db
    target.parent.mkdir(parents=True, exist_ok=True)
    staging_file = target.parent / f".publishing-{uuid.uuid4().hex}.duckdb"
    try:
        with writer(settings) as con:
            _assert_checks_passed(con)
            marts = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'marts' ORDER BY 1").fetchall()]
            if not marts:
                raise PublishRefused("the working warehouse has no marts yet; run the build first")
            con.execute(f"ATTACH '{staging_file}' AS published (STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')")
            try:
                for table in marts:
                    con.execute(f"CREATE TABLE published.main.{table} AS SELECT * FROM marts.{table}")
                for name, source in PUBLISHED_METADATA.items():
                    con.execute(f"CREATE TABLE published.main.{name} AS SELECT * FROM {source}")
                home = con.execute("SELECT current_database()").fetchone()[0]
                con.execute("USE published")    # views name the published file's own tables
                try:
                    for name, sql in PUBLISHED_VIEWS.items():
                        con.execute(f"CREATE VIEW {name} AS {sql}")
                finally:
                    con.execute(f'USE "{home}"')
            finally:
                con.execute("DETACH published")
        os.replace(staging_file, target)
    finally:
        staging_file.unlink(missing_ok=True)
    return target
