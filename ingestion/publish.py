"""Publish the marts as a separate read-only DuckDB file for analysts and BI tools.

The copy is written to a temporary file and moved into place with an atomic rename, so a reader
never sees a half-written file and readers that already have the old file open keep reading it
while the pipeline goes on writing the working warehouse. The file is written in DuckDB 1.4's
storage format because BI drivers still pin DuckDB 1.x (STACK_NOTES.md).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import duckdb

from ingestion.errors import VruError
from ingestion.load import MANIFEST_DDL
from ingestion.settings import Settings, get_settings
from ingestion.warehouse import remove_partial_publications, writer

PUBLISHED_STORAGE_VERSION = "v1.4.0"
# Pipeline metadata published beside the marts so `vru status` and analysts can see provenance:
# a projection that holds names, counts, rules and outcomes only. The working warehouse keeps the
# detail engineers need (raw.load_manifest's absolute source_path, a refusal's quoted row, GX's
# sample values); none of it is published, since a refused force extract's first failing row is a
# crime record (reference, date, offence, victim age, LSOA) and a path names someone's machine.
#   load_manifest: no source_path; a refusal's message is cut to "<file>, row N: rule 'R' failed"
#     (also as refused_rule and refused_row), or a fixed text when it has not that form
#   check_result: each failure line cut to "<suite>: <expectation>(<columns>) failed — N unexpected
#     value(s)" (no sample values, no exception text)
_REFUSAL = r"^(.*?)(?:, row (\d+))?: rule '([^']*)' failed"
_CHECK_FAILURE = (r"(?m)^[^:\n]*: \w+\([^)\n]*\) "
                  r"(?:failed(?: — \d+ unexpected value\(s\))?|could not be evaluated)")
PUBLISHED_METADATA = {
    "load_manifest": f"""
        SELECT load_id, source, source_file, source_sha256, vintage, started_at, finished_at, outcome,
               rows_read, rows_loaded, rows_quarantined, rows_duplicate, check_status,
               CASE WHEN outcome <> 'rejected' THEN message
                    ELSE coalesce(nullif(regexp_extract(message, '{_REFUSAL.replace("'", "''")}', 0), ''),
                                  'refused (the reason is kept in the working warehouse)') END AS message,
               nullif(regexp_extract(message, '{_REFUSAL.replace("'", "''")}', 3), '') AS refused_rule,
               TRY_CAST(nullif(regexp_extract(message, '{_REFUSAL.replace("'", "''")}', 2), '') AS BIGINT) AS refused_row
        FROM raw.load_manifest""",
    "check_result": f"""
        SELECT run_id, suite, checked_at, success, rows_checked,
               CASE WHEN failures IS NULL THEN NULL
                    ELSE coalesce(nullif(array_to_string(regexp_extract_all(failures, '{_CHECK_FAILURE}'), chr(10)), ''),
                                  'failed (the detail is in the working warehouse and the Data Docs)') END AS failures
        FROM raw.check_result""",
}
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
        "SELECT success, failures, checked_at FROM raw.check_result WHERE suite = 'fct_indicator_value' "
        "ORDER BY checked_at DESC LIMIT 1"
    ).fetchone()
    if last is None or not last[0]:
        raise PublishRefused(f"the marts have not passed their checks (last result: {last and last[:2]})")
    # a dbt command that writes models records when it started (on-run-start): marts built, or
    # half-built by a killed run, after their last check have not been checked
    built = con.execute("SELECT max(started_at) FROM raw.dbt_build_started").fetchone()[0] \
        if con.execute("SELECT 1 FROM duckdb_tables() WHERE schema_name = 'raw' "
                       "AND table_name = 'dbt_build_started'").fetchone() else None
    if built is not None and built > last[2]:
        raise PublishRefused(f"the marts were built at {built:%Y-%m-%d %H:%M:%S} UTC, after their last check "
                             f"({last[2]:%Y-%m-%d %H:%M:%S}): run `vru check` first")


def publish(settings: Settings | None = None) -> Path:
    """Copy the checked marts, the published views and the scrubbed pipeline metadata into a new
    file beside the published one, then rename it over it, all under the writer lock. Whatever
    fails (a copy, DETACH, the rename), no `.publishing-*` file is left behind; one left by a
    publish killed with SIGKILL (which runs no clean-up) is removed by the next writer of any kind
    as it takes the lock (never one still being written, since a publish writes it under the lock).
    A killed publish leaves the published file as it was: it is only ever replaced by a rename.

    On a first day (reference data only, no police data yet) check_marts records "nothing to
    check" as a pass, and the reference marts (dim_area, fct_area_population, …) are published
    with an empty fct_indicator_value."""
    settings = settings or get_settings()
    target = settings.published_db
    target.parent.mkdir(parents=True, exist_ok=True)
    staging_file = target.parent / f".publishing-{uuid.uuid4().hex}.duckdb"
    # writer() removes copies left by a publish killed earlier as it takes the lock; the copy is
    # written *and renamed* under the lock, so the next writer never removes one still in use
    with writer(settings) as con:
        try:
            con.execute(MANIFEST_DDL)                   # the pipeline's tables, on any warehouse
            _assert_checks_passed(con)
            marts = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'marts' ORDER BY 1").fetchall()]
            if not marts:
                raise PublishRefused("the working warehouse has no marts yet; run the build first")
            con.execute(f"ATTACH '{staging_file}' AS published (STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')")
            try:
                _copy(con, marts)
            except BaseException:
                with contextlib.suppress(duckdb.Error):     # the first failure is the one to report
                    con.execute("DETACH published")
                raise
            con.execute("DETACH published")
            con.close()
            os.replace(staging_file, target)
        finally:
            # once the connection has closed, so nothing writes the copy again
            con.close()
            remove_partial_publications(settings, staging_file.name)
    return target


def _copy(con, marts: list[str]) -> None:
    for table in marts:
        con.execute(f"CREATE TABLE published.main.{table} AS SELECT * FROM marts.{table}")
    for name, select in PUBLISHED_METADATA.items():
        con.execute(f"CREATE TABLE published.main.{name} AS {select}")
    home = con.execute("SELECT current_database()").fetchone()[0]
    con.execute("USE published")    # views name the published file's own tables
    try:
        for name, sql in PUBLISHED_VIEWS.items():
            con.execute(f"CREATE VIEW {name} AS {sql}")
    finally:
        con.execute(f'USE "{home}"')
