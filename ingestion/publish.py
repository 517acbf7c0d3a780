"""Publish the marts as a separate read-only DuckDB file for analysts and BI tools.

The copy is written to a temporary file and moved into place with an atomic rename, so a reader
never sees a half-written file and readers that already have the old file open keep reading it
while the pipeline goes on writing the working warehouse. The file is written in DuckDB 1.4's
storage format because BI drivers still pin DuckDB 1.x (STACK_NOTES.md).

A BI tool that only connects to the file finds everything it needs in it (docs/bi.md): every
table, view and column carries its description as a DuckDB comment and the tables their keys
(published_metadata.py: from the dbt YAML for the marts, from the declarations below for the
provenance tables and views), and analyst views join the names to the codes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingestion import build_state, progress
from ingestion import published_metadata as meta
from ingestion.errors import VruError
from ingestion.load import MANIFEST_DDL
from ingestion.settings import Settings, get_settings
from ingestion.warehouse import connect_working, remove_partial_publications, writer

log = logging.getLogger(__name__)

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
@dataclass(frozen=True)
class ProvenanceTable:
    """A projection of one of the pipeline's raw tables, published beside the marts. Its
    description is the dbt source's (`pipeline.<raw_table>`, _pipeline__sources.yml) followed by
    `published_as`; its columns (SQL over the raw table, and what each holds) are declared here
    only; it keeps the raw table's primary key when it publishes its columns, and `key`."""

    raw_table: str
    published_as: str
    columns: dict[str, tuple[str, str]]
    key: tuple[str, ...] = ()

    def select(self) -> str:
        return ("SELECT " + ",\n       ".join(f"{sql} AS {name}" for name, (sql, _) in self.columns.items())
                + f"\nFROM raw.{self.raw_table}")


def _sql(pattern: str) -> str:
    return pattern.replace("'", "''")


PUBLISHED_METADATA = {
    "load_manifest": ProvenanceTable(
        "load_manifest",
        "Published without the file's path, and with a refusal cut to the file, row and rule.",
        {
            "load_id": ("load_id", "Id of this load of one delivered file."),
            "source": ("source", "Declared source the file was delivered as (ingestion/sources), e.g. police_street."),
            "source_file": ("source_file", "Name of the delivered file (never its path)."),
            "source_sha256": ("source_sha256", ("SHA-256 of the file's bytes: the same file delivered again is "
                                                "recognised and not loaded twice.")),
            "vintage": ("vintage", ("Two-digit vintage year its header carried (ONS field names such as LAD24CD: 24), "
                                    "else null.")),
            "started_at": ("started_at", "When the load started (UTC)."),
            "finished_at": ("finished_at", "When the load finished (UTC)."),
            "outcome": ("outcome", ("loaded; rejected (a rule refused the whole file, nothing of it was loaded); or "
                                    "superseded (a later delivery replaced its rows).")),
            "rows_read": ("rows_read", "Rows read from the file."),
            "rows_loaded": ("rows_loaded", "Rows loaded into the raw table."),
            "rows_quarantined": ("rows_quarantined", ("Rows set aside by a row rule (kept in the working warehouse's "
                                                      "quarantine, never published).")),
            "rows_duplicate": ("rows_duplicate", "Identical repeated records in the file (counted once)."),
            "check_status": ("check_status", ("Great Expectations status of the delivery: pending, passed, failed, "
                                              "not_required (its source has no suite) or not_checked (not loaded).")),
            "message": (f"""CASE WHEN outcome <> 'rejected' THEN message
                 ELSE coalesce(nullif(regexp_extract(message, '{_sql(_REFUSAL)}', 0), ''),
                               'refused (the reason is kept in the working warehouse)') END""",
                        ("What the load said; for a refused file only \"<file>, row N: rule 'R' failed\" (the "
                         "refused row's contents stay in the working warehouse).")),
            "refused_rule": (f"nullif(regexp_extract(message, '{_sql(_REFUSAL)}', 3), '')",
                             "The rule that refused the file (rejected loads), else null."),
            "refused_row": (f"TRY_CAST(nullif(regexp_extract(message, '{_sql(_REFUSAL)}', 2), '') AS BIGINT)",
                            "The row number of the file that broke the rule, where the rule is about a row, else null."),
        }),
    "check_result": ProvenanceTable(
        "check_result",
        "Published with each failure cut to the suite, expectation, columns and number of unexpected values "
        "(no sample values: those stay in the working warehouse and the Data Docs).",
        {
            "run_id": ("run_id", "Id of the check run (one per suite checked)."),
            "suite": ("suite", ("Great Expectations suite: a source's raw deliveries, or fct_indicator_value for "
                                "the marts.")),
            "checked_at": ("checked_at", "When the check ran (UTC)."),
            "success": ("success", "True when every expectation of the suite passed."),
            "rows_checked": ("rows_checked", "Rows the suite checked."),
            "failures": (f"""CASE WHEN failures IS NULL THEN NULL
                 ELSE coalesce(nullif(array_to_string(regexp_extract_all(failures, '{_CHECK_FAILURE}'), chr(10)), ''),
                               'failed (the detail is in the working warehouse and the Data Docs)') END""",
                         ("One line per failed expectation: \"<suite>: <expectation>(<columns>) failed — N "
                          "unexpected value(s)\"; null when the suite passed.")),
        },
        key=("run_id",)),   # one uuid per recorded run (pipeline._record_check)
}


@dataclass(frozen=True)
class PublishedView:
    """A view written into the published file over its own tables. Its columns are described by
    `columns` (text, or a (table, column) whose description it takes), else by the same-named
    column of the first of `columns_from`."""

    description: str
    sql: str
    columns_from: tuple[str, ...]
    columns: dict[str, str | tuple[str, str]] = field(default_factory=dict)


# Views written into the published file over its own tables (docs/bi.md). A unitary authority is
# a district (lad) and an upper tier (utla) under one code, with the same values: an analyst
# filtering on area_code alone would count it twice in fct_indicator_value.
PUBLISHED_VIEWS = {
    "indicator_value_by_area_code": PublishedView(
        "fct_indicator_value with one row per area code, for filtering on area_code alone: a unitary authority "
        "is both a district (lad) and an upper tier (utla) under one code with the same values, and only its "
        "district row is kept here (dim_area.also_published_as names the other).",
        """
        SELECT * FROM fct_indicator_value AS v
        WHERE NOT (v.area_type = 'utla' AND EXISTS (
            SELECT 1 FROM dim_area AS a WHERE a.area_code = v.area_code AND a.area_type = 'lad'))""",
        ("fct_indicator_value",)),
    "indicator_value_latest": PublishedView(
        "The latest period of each indicator, area and period type in fct_indicator_value, with the "
        "indicator's, area's and period's names: one row each, whether or not that period has a value "
        "(value_note and suppression_reason say why not). A unitary authority is a district (lad) and an upper "
        "tier (utla) under one code: filter on area_code and area_type.",
        """
        SELECT v.indicator_id, i.indicator_name, v.area_code, a.area_name, v.area_type, a.also_published_as,
               v.period_type, p.period_label, v.* EXCLUDE (indicator_id, area_code, area_type, period_type)
        FROM fct_indicator_value AS v
        LEFT JOIN dim_indicator AS i ON i.indicator_id = v.indicator_id
        LEFT JOIN dim_area AS a ON a.area_code = v.area_code AND a.area_type = v.area_type
        LEFT JOIN dim_period AS p ON p.period_type = v.period_type AND p.period_start = v.period_start
        QUALIFY v.period_start = max(v.period_start) OVER (
            PARTITION BY v.indicator_id, v.area_code, v.area_type, v.period_type)""",
        ("fct_indicator_value", "dim_indicator", "dim_area", "dim_period")),
    "multi_agency_lsoa_month_named": PublishedView(
        "fct_multi_agency_lsoa_month with names: each LSOA's name, district, community safety partnership, "
        "police force area and deprivation decile beside its police-recorded violence and A&E assault figures, "
        "by month.",
        """
        SELECT m.lsoa21_code, l.area_name AS lsoa21_name, l.parent_lad_code AS lad_code, lad.area_name AS lad_name,
               l.parent_csp_code AS csp_code, csp.area_name AS csp_name,
               l.parent_pfa_code AS pfa_code, pfa.area_name AS pfa_name, l.imd_decile,
               m.month_start, p.period_label AS month_label, m.* EXCLUDE (lsoa21_code, month_start)
        FROM fct_multi_agency_lsoa_month AS m
        LEFT JOIN dim_area AS l ON l.area_code = m.lsoa21_code AND l.area_type = 'lsoa'
        LEFT JOIN dim_area AS lad ON lad.area_code = l.parent_lad_code AND lad.area_type = 'lad'
        LEFT JOIN dim_area AS csp ON csp.area_code = l.parent_csp_code AND csp.area_type = 'csp'
        LEFT JOIN dim_area AS pfa ON pfa.area_code = l.parent_pfa_code AND pfa.area_type = 'pfa'
        LEFT JOIN dim_period AS p ON p.period_type = 'month' AND p.period_start = m.month_start""",
        ("fct_multi_agency_lsoa_month", "dim_area"),
        {"lsoa21_name": "Name of the LSOA 2021 (dim_area).",
         "lad_code": ("dim_area", "parent_lad_code"),
         "lad_name": "Name of the LSOA's local authority district (dim_area).",
         "csp_code": ("dim_area", "parent_csp_code"),
         "csp_name": "Name of the LSOA's community safety partnership (dim_area).",
         "pfa_code": ("dim_area", "parent_pfa_code"),
         "pfa_name": "Name of the LSOA's police force area (dim_area).",
         "month_label": ("dim_period", "period_label")}),
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


def publish(settings: Settings | None = None, reporter: progress.Reporter | None = None, force: bool = False) -> Path:
    """Copy the checked marts, the published views and the scrubbed pipeline metadata into a new
    file beside the published one, then rename it over it, all under the writer lock. Whatever
    fails (a copy, DETACH, the rename), no `.publishing-*` file is left behind; one left by a
    publish killed with SIGKILL (which runs no clean-up) is removed by the next writer of any kind
    as it takes the lock (never one still being written, since a publish writes it under the lock).
    A killed publish leaves the published file as it was: it is only ever replaced by a rename.

    On a first day (reference data only, no police data yet) check_marts records "nothing to
    check" as a pass, and the reference marts (dim_area, fct_area_population, …) are published
    with an empty fct_indicator_value.

    When nothing changed since the last publish (build_state.publish_needed: no build, check or
    delivery since), the published file is left as it is, unless `force`.

    Progress (progress.py): a step "publish" counting the tables and views written and their rows."""
    settings = settings or get_settings()
    target = settings.published_db
    target.parent.mkdir(parents=True, exist_ok=True)
    staging_file = target.parent / f".publishing-{uuid.uuid4().hex}.duckdb"
    # writer() removes copies left by a publish killed earlier as it takes the lock; the copy is
    # written *and renamed* under the lock, so the next writer never removes one still in use
    with writer(settings) as con:
        try:
            con.execute(MANIFEST_DDL)                   # the pipeline's tables, on any warehouse
            if not force and build_state.publish_needed(con, target) is None:
                log.info("%s is as the warehouse is (nothing new since it was published): not rewritten", target)
                return target
            _assert_checks_passed(con)
            state = build_state.pipeline_state(con)
            marts = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'marts' ORDER BY 1").fetchall()]
            if not marts:
                raise PublishRefused("the working warehouse has no marts yet; run the build first")
            con.execute(f"ATTACH '{staging_file}' AS published (STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')")
            try:
                _copy(con, marts, progress.current(reporter))
            except BaseException:
                with contextlib.suppress(duckdb.Error):     # the first failure is the one to report
                    con.execute("DETACH published")
                raise
            con.execute("DETACH published")
            con.close()
            os.replace(staging_file, target)
            with contextlib.closing(connect_working(settings)) as again:     # still under the lock
                build_state.record_publish(again, state)
        finally:
            # once the connection has closed, so nothing writes the copy again
            con.close()
            remove_partial_publications(settings, staging_file.name)
    return target


def _published_tables(con, marts: list[str]) -> list[meta.PublishedTable]:
    """The marts and the provenance tables, described and keyed as they are declared."""
    dbt = meta.dbt_declarations()
    tables = []
    for name in marts:
        model = dbt.models.get(name) or meta.ModelDeclaration(None, {}, ())
        tables.append(meta.PublishedTable(name, f"SELECT * FROM marts.{name}", meta.working_columns(con, "marts", name),
                                          model.description, model.columns, model.unique))
    for name, table in PUBLISHED_METADATA.items():
        select = table.select()
        raw_key = meta.primary_key_of(con, "raw", table.raw_table)
        keys = tuple(k for k in (raw_key, table.key) if k and set(k) <= set(table.columns))
        source = dbt.sources.get(("pipeline", table.raw_table))
        described = source.description if source else None
        # a column copied as it is keeps the raw table's NOT NULL
        not_null = {c.name for c in meta.working_columns(con, "raw", table.raw_table)
                    if c.not_null and table.columns.get(c.name, ("",))[0] == c.name}
        columns = [meta.Column(c.name, c.data_type, c.name in not_null) for c in meta.select_columns(con, select)]
        tables.append(meta.PublishedTable(
            name, select, columns, " ".join(filter(None, [described, table.published_as])),
            {column: text for column, (_, text) in table.columns.items()}, tuple(dict.fromkeys(keys))))
    return meta.link_dimensions(tables)


# DuckDB keeps an index for every key, in the file too: a national year's fct_indicator_value
# (3.2 million rows) took 2.3 s to copy and 3.0 s more to key (the file grew from 235 to 537 MiB);
# its foreign keys are checked row by row as rows go in (31 s and 77 s when it was keyed that way).
# A table this large states its key in its comment instead.
KEYED_ROWS_MAX = 1_000_000


def _unkeyed_if_large(con, table: meta.PublishedTable) -> int:
    """The table's rows; over KEYED_ROWS_MAX its keys are dropped and stated in its comment."""
    rows = con.execute(f"SELECT count(*) FROM ({table.select})").fetchone()[0]
    if rows <= KEYED_ROWS_MAX:
        return rows
    keys = [k for k in (table.primary_key, *table.unique) if k]
    if keys:
        table.description = " ".join(filter(None, [table.description, (
            f"Unique key: ({', '.join(keys[0])}); not declared as a constraint at {rows:,} rows "
            f"(the key index would multiply the publish time).")]))
    table.primary_key, table.unique, table.foreign_keys = None, [], []
    return rows


def _copy(con, marts: list[str], reporter: progress.Reporter) -> None:
    """Every table with its keys, then the views, then the comments, as one progress step:
    tables and views done of all of them, and the rows copied."""
    tables = _published_tables(con, marts)
    with reporter.step("publish", total=len(tables) + len(PUBLISHED_VIEWS), unit="tables") as step:
        step.set_phase("counting rows")
        rows = {table.name: _unkeyed_if_large(con, table) for table in tables}
        keyed = {t.name for t in tables if t.primary_key}
        for table in tables:        # a reference needs the referenced table's key
            table.foreign_keys = [(key, dimension) for key, dimension in table.foreign_keys if dimension in keyed]
        step.set_phase("copying tables")
        for table in tables:
            con.execute(meta.create_table_sql(table, "published"))
            con.execute(f"INSERT INTO published.main.{table.name} {table.select}")
            for statement in meta.key_sql(table, "published"):     # before a table referring to it
                con.execute(statement)
            step.advance(rows=rows[table.name])
        home = con.execute("SELECT current_database()").fetchone()[0]
        con.execute("USE published")    # views name the published file's own tables
        try:
            step.set_phase("views")
            for name, view in PUBLISHED_VIEWS.items():
                con.execute(f"CREATE VIEW {name} AS {view.sql}")
                step.advance()
            step.set_phase("comments")
            by_name = {t.name: t for t in tables}
            for table in tables:
                for statement in meta.comment_sql("TABLE", table.name, table.description, table.column_descriptions):
                    con.execute(statement)
            for name, view in PUBLISHED_VIEWS.items():
                columns = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
                described = meta.view_column_descriptions(columns, view.columns, view.columns_from, by_name)
                for statement in meta.comment_sql("VIEW", name, view.description, described):
                    con.execute(statement)
        finally:
            con.execute(f'USE "{home}"')
