"""Generic loader: delivered files → one raw table, with load metadata and a manifest.

A source is declared as data (`SourceSpec`: columns found by header name, rules, how a delivery
replaces earlier ones); this module does the rest with DuckDB's own CSV reader, set-based, for
many files at once (a year of police.uk files is a few parallel `read_csv` calls, not 516):

1. header checked by column name (never position); vintage years read from names like LAD24CD;
2. the files are staged as text with each row's file and data row number; every rule is checked
   over the batch in one pass: structural rules reject a whole file with the file, row and rule
   named (the other files still load); row rules send rows to `quarantine.rejected_row`;
3. in one transaction the deliveries' earlier rows are replaced, quarantine and manifest written.
   A failure rolls back, so nothing already loaded is lost or half-written; an unchanged file
   (same name and sha256 as the last accepted load) is skipped, so re-running changes nothing.

A `select_sql` reads `_staged` and passes `_row_number` and `_file_index` through; attributes
from the file name are written `{month}`, `{force}`, … and bound to each file's own value.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import os
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb

from ingestion import codes, privacy, progress
from ingestion.errors import VruError

# Columns the loader writes on every raw row: which delivery, which file, when, which row. The
# file's digest is the delivery's (raw.load_manifest.source_sha256, by _load_id): repeated on every
# row it was a third of the cost of writing these columns.
LOAD_METADATA = (("_load_id", "VARCHAR"), ("_source_file", "VARCHAR"), ("_loaded_at", "TIMESTAMP"),
                 ("_row_number", "BIGINT"))
# load metadata no longer written on raw rows, dropped from tables made before
RETIRED_METADATA = ("_source_sha256",)
REFRESH_KINDS = ("by_period", "revises_history", "reference")
# DuckDB's CSV reader refuses a line longer than this (its max_line_size, set explicitly so the
# header check and the reader agree); a file with such a line is refused as `csv_reader_limits`
MAX_LINE_BYTES = 2_000_000
# text from a file (a header, a field, DuckDB's quote of a line) is cut to this in messages
MAX_SHOWN_CHARS = 200
MAX_DETAIL_CHARS = 2_000


def shown(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """Text from a delivered file as a message may show it: control characters escaped (a file
    cannot move the cursor or clear a terminal), cut to `limit` characters with how much is left."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more characters)"


class FileRejected(VruError):
    """A delivery was refused. The message names the file, the row (if any) and the rule.

    The message is plain text, shown literally: it may quote the file (headers, values), so it
    can contain anything, `[bold]` included; control characters are escaped and long text cut."""

    hint = "fix or re-export the file and deliver it again; earlier loads are unchanged"

    def __init__(self, file: Path, rule: str, detail: str, row: int | None = None):
        self.file, self.rule, self.detail, self.row = Path(file), rule, shown(detail, MAX_DETAIL_CHARS), row
        where = f"{shown(self.file.name)}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: rule '{rule}' failed: {self.detail}")


class ResourceExhausted(VruError):
    """The machine ran out of disk, temporary space or memory during a load. Not the file's fault:
    it is not marked rejected (it stays unjudged) and the transaction rolled back, so the warehouse
    is as it was and the same command can simply be run again."""

    hint = ("free disk space (the warehouse folder and DuckDB's temp_directory) or memory "
            "(VRU_DUCKDB_MEMORY_LIMIT), then load again; nothing was changed and no file was refused")


def resource_fault(error: BaseException) -> str | None:
    """What ran out, when an error is the machine's (disk, temp space, memory) rather than a
    file's; None for anything else (a parse error, a constraint). DuckDB's own types tell most:
    OutOfMemoryException (including a full temp_directory: "failed to offload"), IOException with
    ENOSPC; Python's OSError and MemoryError the rest."""
    if isinstance(error, MemoryError):
        return "memory"
    if isinstance(error, OSError):
        return {errno.ENOSPC: "disk space", errno.EDQUOT: "disk quota", errno.ENOMEM: "memory"}.get(error.errno)
    if isinstance(error, duckdb.OutOfMemoryException):
        return "temporary disk space" if "max_temp_directory_size" in str(error) else "memory"
    if isinstance(error, (duckdb.IOException, duckdb.FatalException)):
        text = str(error)
        if "No space left on device" in text or "ENOSPC" in text:
            return "disk space"
        if "Disk quota exceeded" in text:
            return "disk quota"
    return None


def _exhausted(error: BaseException, paths: list[Path]) -> ResourceExhausted:
    names = ", ".join(shown(p.name) for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ResourceExhausted(f"loading {names}: ran out of {resource_fault(error)} ({shown(first)}); "
                             "the file(s) were not judged and the warehouse is unchanged")


_RE2 = None
_RE2_LOCK = threading.Lock()


def match_names(pattern: str, names: list[str]) -> list[dict[str, str] | None]:
    """Full-match file names against a source's `file_pattern` with DuckDB's RE2, which runs in
    linear time: a pattern from a mapping file such as `(a+)+$` cannot hang the loader, as it can
    with Python's backtracking `re`. For each name: None when it does not match, else its named
    groups that took part in the match (RE2 numbers groups as Python does)."""
    global _RE2
    if not names:
        return []
    groups = re.compile(pattern).groupindex   # compiling is not matching: no backtracking here
    anchored = r"\A(?:" + pattern + r")\z"
    extract = "".join(f", regexp_extract(l[i], $anchored, {n})" for n in groups.values())
    with _RE2_LOCK:
        if _RE2 is None:
            _RE2 = duckdb.connect()
        rows = _RE2.execute(
            f"""SELECT i, regexp_full_match(l[i], $pattern){extract}
                FROM (SELECT $names::VARCHAR[] AS l), range(1, len(l) + 1) AS t(i)""",
            {"pattern": pattern, "names": list(names), **({"anchored": anchored} if groups else {})}).fetchall()
    found: list[dict[str, str] | None] = [None] * len(names)
    for i, ok, *values in rows:
        if ok:
            found[i - 1] = {k: v for k, v in zip(groups, values, strict=True) if v}
    return found


@dataclass(frozen=True)
class Column:
    """A column of a source. `header` is a regex on the delivered header (a `(?P<vintage>..)` group
    captures the two-digit vintage year ONS puts in field names: LAD24CD → '24'); None for a column
    the source's select derives (from the file name, or by unpivoting). `stored` columns make the
    raw table (with the load metadata); the rest are read and checked only.

    The checks on the typed raw value are run by Great Expectations on every delivery of a source
    with a suite: `not_null`, `values` (a code list), `area_level` (a code of that level, from
    ingestion/codes.py; nulls allowed), `pattern` (a regex) and `between` (inclusive bounds)."""

    header: str | None
    name: str
    sql_type: str = "VARCHAR"
    required: bool = True
    stored: bool = True
    not_null: bool = False
    values: tuple[str, ...] | None = None
    area_level: str | None = None
    pattern: str | None = None
    between: tuple[float | None, float | None] | None = None
    description: str = ""
    # a direct patient identifier (NHS number, name, date of birth, postcode): read so the
    # source's select can derive a keyed hash, an age or a district from it (ingestion/privacy.py),
    # never stored, quoted in a message, quarantined or checked
    identifier: bool = False

    def __post_init__(self):
        if self.area_level and self.area_level not in codes.AREA_LEVELS:
            raise ValueError(f"column {self.name}: area level {self.area_level!r} is not one of {list(codes.AREA_LEVELS)}")
        if self.identifier and (self.stored or self.header is None):
            raise ValueError(f"column {self.name}: an identifier is read from the file and never stored")


@dataclass(frozen=True)
class Rule:
    """`check` is a SQL predicate over the staged text columns, true when a row is acceptable.
    `reject_file`: the file is malformed and refused whole; `quarantine_row`: the row is set aside."""

    name: str
    check: str
    description: str
    action: Literal["reject_file", "quarantine_row"] = "reject_file"


@dataclass(frozen=True)
class ReportingUnit:
    """Who a delivery reports for: coverage (which unit delivered which period) is recorded per
    delivery in raw.load_period, so a unit that sent nothing for a period is "not delivered",
    never zero. `kind` names the lookup that places a unit in areas (police_force: the seed
    police_force, force id → police force area; ae_site and ae_provider: the seed ae_site, an
    emergency department or its trust → the police force area it serves); `sql` gives the unit's id over the typed raw row
    ({attr} binds a file-name attribute, e.g. {force})."""

    kind: Literal["police_force", "ae_site", "ae_provider"]
    sql: str


@dataclass(frozen=True)
class SourceSpec:
    """One delivered source, declared once. Everything else about it is derived from this: the raw
    table (`raw_ddl`), its Great Expectations suite (expectations/raw_delivery.py), the raw tables
    that must exist, the publish gate, the incremental refresh scope (dbt reads
    `raw.source_registry`) and the `vru ingest` command (ingestion/sources/__init__.py)."""

    name: str
    raw_table: str
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...] = ()
    # regex on the file name; named groups become delivery attributes usable in rules as {group}
    file_pattern: str = r".*\.csv$"
    # "file": a delivery replaces the rows from the file of the same name (monthly files);
    # "table": a delivery replaces the whole table (reference snapshots such as lookups);
    # "group:<name>": replaces rows whose delivery attribute <name> matches (e.g. a year)
    replace_scope: str = "file"
    unique_key: tuple[str, ...] = ()
    # optional SELECT producing the typed raw rows from `_staged`; default casts each column
    select_sql: Callable[[SourceSpec, dict[str, str], list[str]], str] | None = None
    extra_columns_pattern: str | None = None  # regex of further columns kept (wide layouts)
    description: str = ""
    # Great Expectations suite that must pass before the delivery reaches dbt (None: the load
    # rules are the whole check, as for reference lookups); `extra_expectations` adds checks no
    # column declaration says (each a function returning a GX expectation)
    gx_suite: str | None = None
    extra_expectations: tuple[Callable[[], object], ...] = ()
    # records repeated identically under the same id (police.uk repeats some Crime IDs): counted
    # in the manifest here, collapsed to one in staging
    duplicate_id_column: str | None = None
    # How a delivery moves what is built from it: "by_period" (it adds or replaces its own
    # periods: only those are rebuilt), "revises_history" (it may restate any past period: what
    # is counted from it is rebuilt in full), "reference" (lookups, population: everything is)
    refresh: str = "reference"
    # the grain it arrives at: area level × period type (None: not by period)
    area_level: str = "lsoa"
    period_type: str | None = None
    # SQL over the typed raw row giving the start of the period it belongs to (by_period sources,
    # and any source whose coverage is recorded)
    period_sql: str | None = None
    # who each delivery reports for (coverage as data: raw.load_period); None: not by reporting unit
    reporting_unit: ReportingUnit | None = None
    # the file layouts this source accepts beyond its own columns (e.g. an older header), each a
    # SourceSpec of the same name and raw table; `layout_for` picks one by a file's header
    layouts: tuple[SourceSpec, ...] = ()
    # how files at a path pair with layouts, when a file name or header is not enough (force
    # extracts pair with the mapping file beside them): (path, month) → ([(layout, file)], refusals)
    discover: Callable[[Path, str | None], tuple[list[tuple[SourceSpec, Path]], list[FileRejected]]] | None = None
    # the name users type after `vru ingest` (default: the name, hyphenated), which also names
    # the pipeline DAG's task (ingest_police_street)
    command: str | None = None
    # the folder under the landing area where the pipeline DAG finds its deliveries (None: it is
    # not loaded on its own there: reference data has its own task, and sources delivered with
    # another are loaded with it)
    landing: str | None = None
    # sources whose files travel with this one's (police.uk outcomes and stop-and-search files
    # beside the street files): loaded from the same place in the same call, when present
    delivered_with: tuple[str, ...] = ()
    # patient-level health data (A&E): published only as counts under the NHS small-number rule,
    # so not even its deliveries' record counts are (fct_source_coverage)
    health_data: bool = False
    # raw columns telling apart the rows a select unpivots from one delivered row (a wide by-reason
    # file: one row per reason): with the file and row number they key a raw row (GX checks it)
    unpivoted_by: tuple[str, ...] = ()

    def __post_init__(self):
        if self.refresh not in REFRESH_KINDS:
            raise ValueError(f"source {self.name}: refresh {self.refresh!r} is not one of {REFRESH_KINDS}")
        if self.area_level not in codes.AREA_LEVELS:
            raise ValueError(f"source {self.name}: area level {self.area_level!r} is not one of {list(codes.AREA_LEVELS)}")
        if self.period_type is not None and self.period_type not in codes.PERIOD_TYPES:
            raise ValueError(f"source {self.name}: period type {self.period_type!r} is not one of {list(codes.PERIOD_TYPES)}")
        if self.refresh == "by_period" and not (self.period_type and self.period_sql):
            raise ValueError(f"source {self.name}: a by_period source declares its period_type and period_sql")
        if self.reporting_unit and not self.period_sql:
            raise ValueError(f"source {self.name}: coverage by reporting unit is recorded per period: declare period_sql")
        if set(self.unique_key) & set(self.identifier_columns):
            raise ValueError(f"source {self.name}: an identifier cannot be part of the unique key (it would be quoted)")

    @property
    def identifier_columns(self) -> tuple[str, ...]:
        """The staged names of the direct identifiers this source may carry."""
        return tuple(c.name for c in self.columns if c.identifier)

    @property
    def cli_name(self) -> str:
        return self.command or self.name.replace("_", "-")

    @property
    def task_id(self) -> str:
        """The pipeline DAG's task that loads it."""
        return "ingest_" + self.cli_name.replace("-", "_")

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.stored)

    @property
    def raw_columns(self) -> list[str]:
        """The raw table's columns, load metadata included, in order."""
        return [c.name for c in self.stored_columns] + [name for name, _ in LOAD_METADATA]

    @property
    def area_column(self) -> Column | None:
        """The column that places a record in an area of the source's level (None: none does)."""
        return next((c for c in self.columns if c.area_level == self.area_level), None)

    @property
    def raw_ddl(self) -> str:
        columns = [f"{c.name} {c.sql_type}" for c in self.stored_columns]
        columns += [f"{name} {sql_type} NOT NULL" for name, sql_type in LOAD_METADATA]
        return f"CREATE TABLE IF NOT EXISTS {self.raw_table} ({', '.join(columns)})"

    def layout_for(self, path: Path) -> SourceSpec:
        """The layout whose required headers a file has (this one when none other fits; a file
        whose header cannot be read is refused by name when it is loaded)."""
        if not self.layouts:
            return self
        try:
            header = read_header(path)
        except FileRejected:
            return self
        for layout in self.layouts:
            if all(any(re.fullmatch(c.header, h) for h in header)
                   for c in layout.columns if c.header and c.required):
                return layout
        return self


@dataclass
class LoadResult:
    source: str
    file: Path
    outcome: Literal["loaded", "unchanged", "rejected"]
    load_id: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    vintage: str | None = None
    message: str = ""
    rejection: FileRejected | None = field(default=None, repr=False)
    source_size: int | None = None          # the file as it was hashed (load_manifest)
    source_mtime_ns: int | None = None


MANIFEST_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE TABLE IF NOT EXISTS raw.load_manifest (
    load_id VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_path VARCHAR NOT NULL,
    source_sha256 VARCHAR NOT NULL,
    vintage VARCHAR,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    outcome VARCHAR NOT NULL,          -- loaded | rejected | superseded
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    message VARCHAR,
    check_status VARCHAR NOT NULL,     -- pending | passed | failed | not_required | not_checked
    rows_duplicate BIGINT              -- identical repeated records (collapsed in staging)
);
ALTER TABLE raw.load_manifest ADD COLUMN IF NOT EXISTS rows_duplicate BIGINT;
-- the file's size and modification time when it was hashed: a file found again with both
-- unchanged is not hashed again (a run with nothing new reads no file)
ALTER TABLE raw.load_manifest ADD COLUMN IF NOT EXISTS source_size BIGINT;
ALTER TABLE raw.load_manifest ADD COLUMN IF NOT EXISTS source_mtime_ns BIGINT;
-- the periods each delivery holds, so a build redoes only those, and (sources declaring a
-- reporting unit) who it reports for and how many of its records could be placed in an area:
-- coverage as data, read by dbt (int_coverage__delivery)
CREATE TABLE IF NOT EXISTS raw.load_period (
    load_id VARCHAR NOT NULL, period_type VARCHAR NOT NULL, period_start DATE NOT NULL
);
ALTER TABLE raw.load_period ADD COLUMN IF NOT EXISTS reporting_unit VARCHAR;
ALTER TABLE raw.load_period ADD COLUMN IF NOT EXISTS records BIGINT;
ALTER TABLE raw.load_period ADD COLUMN IF NOT EXISTS records_located BIGINT;
-- which deliveries count, written once: loaded, and not failed by their checks (dbt reads it
-- as a source; publish, checks and status use it too)
CREATE OR REPLACE VIEW raw.accepted_load AS
    SELECT * FROM raw.load_manifest WHERE outcome = 'loaded' AND check_status <> 'failed';
-- every Great Expectations run (ingestion/pipeline.py)
CREATE TABLE IF NOT EXISTS raw.check_result (
    run_id VARCHAR NOT NULL, suite VARCHAR NOT NULL, checked_at TIMESTAMP NOT NULL,
    success BOOLEAN NOT NULL, rows_checked BIGINT NOT NULL, failures VARCHAR
);
CREATE TABLE IF NOT EXISTS quarantine.rejected_row (
    source VARCHAR NOT NULL,
    _load_id VARCHAR NOT NULL,
    _source_file VARCHAR NOT NULL,
    _row_number BIGINT NOT NULL,
    rule VARCHAR NOT NULL,
    rule_description VARCHAR NOT NULL,
    record JSON NOT NULL
);
"""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_header(path: Path) -> list[str]:
    """The header row by name; a UTF-8 byte-order mark (common in ONS and police files) is removed.
    A header longer than DuckDB's reader takes, or with a field longer than Python's csv module
    takes, refuses the file (`csv_reader_limits`) without reading further."""

    def lines(handle):
        used = 0
        while line := handle.readline(MAX_LINE_BYTES + 1 - used):
            used += len(line)
            if used > MAX_LINE_BYTES:
                raise FileRejected(path, "csv_reader_limits",
                                   f"the header is longer than the CSV reader's limit of {MAX_LINE_BYTES:,} characters")
            yield line

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        try:
            row = next(csv.reader(lines(handle)), None)
        except csv.Error as error:
            raise FileRejected(path, "csv_reader_limits" if "limit" in str(error) else "csv_structure",
                               f"the header cannot be read as CSV: {error}") from None
    if not row:
        raise FileRejected(path, "header_present", "the file is empty or has no header row")
    return [name.strip() for name in row]


def match_header(spec: SourceSpec, path: Path, header: list[str]) -> tuple[list[str], str | None]:
    """Map each file column to a raw column name (or None to ignore); check required columns.

    Returns the staged column names in file order and the vintage year found in the header."""
    staged: list[str | None] = [None] * len(header)
    vintages: set[str] = set()
    missing = []
    for column in spec.columns:
        if column.header is None:
            continue
        hits = [i for i, name in enumerate(header) if re.fullmatch(column.header, name)]
        if not hits:
            if column.required:
                # shown as a reader would write it: vintage as YY, regex escapes removed
                missing.append(re.sub(r"\\([^A-Za-z0-9])", r"\1", column.header.replace("(?P<vintage>\\d{2})", "YY")))
            continue
        staged[hits[0]] = column.name
        found = re.fullmatch(column.header, header[hits[0]])
        if found and "vintage" in found.groupdict():
            vintages.add(found.group("vintage"))
    if spec.extra_columns_pattern:
        for i, name in enumerate(header):
            if staged[i] is None and re.fullmatch(spec.extra_columns_pattern, name):
                staged[i] = name.lower().rstrip("+")
    if missing:
        unexpected = [h for h, s in zip(header, staged, strict=True) if s is None]
        more = f" and {len(unexpected) - 20} more" if len(unexpected) > 20 else ""
        hint = (f"; columns not recognised: {', '.join(shown(repr(u), 80) for u in unexpected[:20])}{more}"
                if unexpected else "")
        raise FileRejected(
            path, "required_columns",
            f"missing column(s) {', '.join(repr(m) for m in missing)}{hint}",
        )
    if len(vintages) > 1:
        raise FileRejected(path, "single_vintage", f"header mixes vintages {sorted(vintages)}")
    names = [s if s is not None else f"_ignored_{i}" for i, s in enumerate(staged)]
    return names, (vintages.pop() if vintages else None)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _default_select(spec: SourceSpec, attrs: dict[str, str], staged: list[str]) -> str:
    exprs = []
    for column in spec.stored_columns:
        if column.name not in staged:
            exprs.append(f"CAST(NULL AS {column.sql_type}) AS {column.name}")
        elif column.sql_type == "VARCHAR":
            exprs.append(f"NULLIF(TRIM({column.name}), '') AS {column.name}")
        else:
            exprs.append(f"CAST(NULLIF(TRIM({column.name}), '') AS {column.sql_type}) AS {column.name}")
    return "SELECT " + ", ".join(exprs) + ", _row_number, _file_index FROM _staged"


def ensure_tables(con: duckdb.DuckDBPyConnection, *specs: SourceSpec) -> None:
    """The pipeline's own tables and the raw tables of `specs`, with any column declared since a
    table was made (its earlier rows hold null there). The catalogue is read once, and only what
    is missing is created: a load of a few files does not pay for two dozen DDL statements."""
    con.execute(MANIFEST_DDL)
    existing: dict[str, set[str]] = {}
    for schema, table, column in con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database()").fetchall():
        existing.setdefault(f"{schema}.{table}", set()).add(column)
    for spec in specs:      # a layout shares its source's table and may add columns to it
        if spec.raw_table not in existing:
            con.execute(spec.raw_ddl)
            existing[spec.raw_table] = set(spec.raw_columns)
        for retired in existing[spec.raw_table] & set(RETIRED_METADATA):
            con.execute(f"ALTER TABLE {spec.raw_table} DROP COLUMN {retired}")
            existing[spec.raw_table].discard(retired)
        for c in spec.stored_columns:
            if c.name not in existing[spec.raw_table]:
                con.execute(f"ALTER TABLE {spec.raw_table} ADD COLUMN IF NOT EXISTS {c.name} {c.sql_type}")
                existing[spec.raw_table].add(c.name)


@dataclass
class _Delivery:
    """One file of a batch: where it is, the name it is delivered under and what that name says."""

    path: Path
    name: str
    sha: str
    load_id: str
    started: datetime
    result: LoadResult
    attrs: dict[str, str] = field(default_factory=dict)
    rejection: FileRejected | None = None


# columns the loader adds to the staged rows; never part of a record shown to people
_INTERNAL = ("_file_index", "_row_number")


def _bind(sql: str, attrs: dict[str, str]) -> str:
    """Put delivery attributes into a rule or select: {month} → the staged `_attr_month` column,
    which holds each file's own value (a batch has many files); {_vintage}, the same for every
    file of a batch, → a literal."""
    for key in attrs:
        value = _sql_str(attrs[key]) if key == "_vintage" else f"_attr_{key}"
        sql = sql.replace("{" + key + "}", value)
    return sql


def _stage(con: duckdb.DuckDBPyConnection, spec: SourceSpec, deliveries: list[_Delivery],
           names: list[str]) -> None:
    """Read the batch's files as text into `_staged_text` in one parallel `read_csv` and expose
    them as the view `_staged`: each row with its file (`_file_index`), its 1-based data row
    number in that file, its file's attributes, and NULL for optional columns the files lack.

    Row numbers come from the table's rowid: DuckDB keeps insertion order (files in list order,
    rows in file order), so a file's rows are consecutive rowids."""
    columns = "{" + ", ".join(f"{_sql_str(n)}: 'VARCHAR'" for n in names) + "}"
    files = "[" + ", ".join(_sql_str(str(d.path)) for d in deliveries) + "]"
    keys = sorted({k for d in deliveries for k in d.attrs} | set(_name_groups(spec)))
    con.execute("DROP VIEW IF EXISTS _staged")
    con.execute("CREATE OR REPLACE TEMP TABLE _delivery (_file_index INTEGER, "
                + "".join(f"_attr_{k} VARCHAR, " for k in keys) + "_load_id VARCHAR, _source_file VARCHAR, "
                "_accepted BOOLEAN)")
    con.executemany(f"INSERT INTO _delivery VALUES ({', '.join('?' * (len(keys) + 4))})",
                    [[i, *[d.attrs.get(k) for k in keys], d.load_id, d.name, True]
                     for i, d in enumerate(deliveries)])
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _staged_text AS
                SELECT file_index::INTEGER AS _file_index, *
                FROM read_csv({files}, header = true, columns = {columns},
                              delim = ',', quote = '"', escape = '"', strict_mode = true, auto_detect = false,
                              null_padding = false, encoding = 'utf-8', max_line_size = {MAX_LINE_BYTES})"""
        )
    except duckdb.Error as error:
        if resource_fault(error):           # the machine's fault, not the file's: never a rejection
            raise _exhausted(error, [d.path for d in deliveries]) from error
        if len(deliveries) > 1:
            raise                           # the caller retries file by file to name the culprit
        raise _csv_rejection(deliveries[0].path, str(error)) from None
    # whether any row is placed in England or Wales (a file where none is would load, pass and
    # then vanish from every mart), found in the same pass as each file's rows
    area = spec.area_column
    placed = (codes.AREA_LEVELS[area.area_level].code_rule_sql(area.name)
              if area is not None and area.header is not None and area.name in names else "false")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _file AS
                    SELECT _file_index, min(rowid) AS _first_rowid, count(*) AS _rows,
                           coalesce(bool_or({placed}), false) AS _placed
                    FROM _staged_text GROUP BY _file_index""")
    absent = "".join(f", CAST(NULL AS VARCHAR) AS {c.name}" for c in spec.columns
                     if c.header is not None and c.name not in names)
    con.execute(f"""CREATE TEMP VIEW _staged AS
                    SELECT s.*{absent}, s.rowid - f._first_rowid + 1 AS _row_number
                           {''.join(f', d._attr_{k}' for k in keys)}
                    FROM _staged_text AS s JOIN _file AS f USING (_file_index) JOIN _delivery AS d USING (_file_index)""")


def _csv_rejection(path: Path, text: str) -> FileRejected:
    """DuckDB's CSV error as a refusal naming the file line; its own explanation kept ("Expected
    Number of Columns: 12 Found: 13"), its quote of the line and its hints left out. A line
    beyond the reader's own limits (max_line_size) is `csv_reader_limits`."""
    line = re.search(r"[Ll]ine:? (\d+)", text)
    row = int(line.group(1)) - 1 if line else None
    detail = [ln for ln in text.splitlines()[1:4]
              if ln.strip() and not ln.startswith(("Possible", "Original Line"))][:2]
    message = "; ".join(detail) or text.splitlines()[0]
    if "maximum line size" in text.lower() or "max_line_size" in text:
        where = f"file line {line.group(1)}" if line else "a line"
        return FileRejected(path, "csv_reader_limits", f"{where} is longer than the CSV reader takes "
                            f"(max_line_size {MAX_LINE_BYTES:,} bytes): {message}", row=row)
    if line:
        message = f"file line {line.group(1)} is not a valid CSV record: {message}"
    return FileRejected(path, "csv_structure", message, row=row)


def _record_columns(con, spec: SourceSpec) -> str:
    """The staged columns a person recognises (file columns, then optional ones the file lacks),
    direct identifiers left out: a record is shown in messages and kept in the quarantine."""
    names = [r[0] for r in con.execute("DESCRIBE _staged").fetchall()]
    hidden = set(_INTERNAL) | set(spec.identifier_columns)
    return ", ".join(f'"{n}"' for n in names if n not in hidden and not n.startswith("_attr_"))


def _check_rules(con, spec: SourceSpec, deliveries: list[_Delivery], attrs: dict[str, str]) -> None:
    """Evaluate every rule over the whole batch in one pass. Rows failing any rule go to
    `_failing` (with which rules they pass); files breaking a reject_file rule, with no data rows
    or with a repeated unique key get their `rejection` set, naming the first failing row."""
    rules = spec.rules
    flags = ", ".join(f"coalesce(({_bind(r.check, attrs)}), false) AS _ok{i}" for i, r in enumerate(rules))
    all_ok = " AND ".join(f"_ok{i}" for i in range(len(rules))) or "true"
    # the predicates are evaluated in a projection because DuckDB expands *COLUMNS(...) only there
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _failing AS
                    SELECT * FROM (SELECT _file_index, _row_number{', ' + flags if flags else ''} FROM _staged)
                    WHERE NOT ({all_ok})""")
    found: dict[int, tuple[int, FileRejected]] = {}

    def refuse(index: int, order: int, rejection: FileRejected) -> None:
        if index not in found or order < found[index][0]:
            found[index] = (order, rejection)

    rows = dict(con.execute("SELECT _file_index, _rows FROM _file").fetchall())
    for i, d in enumerate(deliveries):
        if not rows.get(i):
            refuse(i, -1, FileRejected(d.path, "has_rows", "the file has a header but no data rows"))
    area = spec.area_column
    if area is not None and area.header is not None:
        # every mart is of England and Wales: a file none of whose rows is placed there (Northern
        # Ireland, Scotland) would load, pass and then vanish from every table
        level = codes.AREA_LEVELS[area.area_level]
        for (index,) in con.execute("SELECT _file_index FROM _file WHERE NOT _placed").fetchall():
            refuse(index, len(rules) + 1, FileRejected(      # a rule naming the cause goes first
                deliveries[index].path, "england_wales_geography",
                f"no row has an England or Wales {level.name} code in {area.name}: the platform's areas "
                "are England and Wales, so nothing in this file could reach a published table"))
    for order, rule in enumerate(rules):
        if rule.action != "reject_file":
            continue
        for index, row, count in con.execute(
                f"SELECT _file_index, min(_row_number), count(*) FROM _failing WHERE NOT _ok{order} "
                "GROUP BY _file_index").fetchall():
            record = con.execute(f"SELECT {_record_columns(con, spec)} FROM _staged WHERE _file_index = ? "
                                 "AND _row_number = ?", [index, row]).fetchdf().iloc[0].to_dict()
            first = {k: (shown(v, 100) if isinstance(v, str) else v) for k, v in record.items()
                     if not k.startswith("_ignored_")}
            refuse(index, order, FileRejected(
                deliveries[index].path, rule.name,
                f"{rule.description} ({count} row(s) fail; first is {first})", row=row))
    if spec.unique_key:
        key = ", ".join(spec.unique_key)
        for dup in con.execute(
                f"SELECT _file_index, {key}, min(_row_number), max(_row_number), count(*) FROM _staged "
                f"GROUP BY _file_index, {key} HAVING count(*) > 1 "
                "QUALIFY row_number() OVER (PARTITION BY _file_index ORDER BY min(_row_number)) = 1").fetchall():
            refuse(dup[0], len(rules), FileRejected(
                deliveries[dup[0]].path, "unique_key",
                f"{key} {dup[1:-3]} appears {dup[-1]} times (rows {dup[-3]} and {dup[-2]})", row=dup[-2]))
    for index, (_, rejection) in found.items():
        deliveries[index].rejection = rejection
    if found:
        con.execute("UPDATE _delivery SET _accepted = false WHERE _file_index IN (SELECT unnest(?))", [list(found)])


def _file_attrs(spec: SourceSpec, delivery: _Delivery, found: dict[str, str] | None | bool = False) -> None:
    """The delivery attributes its name gives (`found`: its match_names result, when already known)."""
    if found is False:
        found = match_names(spec.file_pattern, [delivery.name])[0]
    if found is None:
        raise FileRejected(delivery.path, "file_name", f"name {delivery.name!r} does not match {spec.file_pattern!r}")
    delivery.attrs = dict(found)


def load_files(con: duckdb.DuckDBPyConnection, spec: SourceSpec, paths: list[Path | str],
               batch_bytes: int = 256 << 20, reporter: progress.Reporter | None = None) -> list[LoadResult]:
    """Load many delivered files of one source, set-based: files with the same header are read
    by one parallel `read_csv` (in batches of about `batch_bytes`), every rule is checked over
    the batch in one pass, and the accepted files are written in one transaction. Each file
    still has its own load id, manifest row and outcome: a refused file (its LoadResult has
    outcome "rejected" and the reason in `message`) never stops the others.

    Running out of disk, temp space or memory raises ResourceExhausted: the batch in hand rolls
    back and its files are left unjudged (no manifest row), so the same call can be run again.

    Progress (progress.py): a step "load <source>" counting files done of those given, with the
    rows loaded and the bytes read, and its phase (hashing, reading, checking rules, writing)."""
    paths = [Path(p).resolve() for p in paths]
    try:
        with progress.current(reporter).step(f"load {spec.name}", total=len(paths), unit="files") as step:
            return _load_files(con, spec, paths, batch_bytes, step)
    except (duckdb.Error, OSError, MemoryError) as error:
        if resource_fault(error):
            raise _exhausted(error, paths) from error
        raise


def _load_files(con: duckdb.DuckDBPyConnection, spec: SourceSpec, paths: list[Path], batch_bytes: int,
                step: progress.Step) -> list[LoadResult]:
    started = datetime.now(UTC).replace(tzinfo=None)
    from ingestion.sources import ensure_raw_tables  # the registry imports this module

    ensure_raw_tables(con, spec)
    key = privacy.configured_key() if spec.identifier_columns else None
    loaded_rows = con.execute(
        "SELECT source_file, source_sha256, load_id, source_path, source_size, source_mtime_ns FROM raw.load_manifest "
        "WHERE source = ? AND outcome = 'loaded'", [spec.name]).fetchall()
    loaded = {(name, sha): load_id for name, sha, load_id, *_ in loaded_rows}
    # a file at the same path with the size and modification time it had when its loaded delivery
    # was hashed is that delivery: not read again (sha256 decides whenever either differs)
    known = {(path, size, mtime): sha for _, sha, _, path, size, mtime in loaded_rows if size is not None}
    stats = [p.stat() for p in paths]
    shas = [known.get((str(p), st.st_size, st.st_mtime_ns)) for p, st in zip(paths, stats, strict=True)]
    step.set_phase("hashing")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:   # hashlib releases the GIL
        hashed = dict(zip([p for p, sha in zip(paths, shas, strict=True) if sha is None],
                          pool.map(sha256_of, [p for p, sha in zip(paths, shas, strict=True) if sha is None]),
                          strict=True))
    shas = [sha or hashed[p] for p, sha in zip(paths, shas, strict=True)]
    results, groups = [], {}
    names_found = match_names(spec.file_pattern, [p.name for p in paths])
    for path, sha, found, stat in zip(paths, shas, names_found, stats, strict=True):
        result = LoadResult(source=spec.name, file=path, outcome="loaded", load_id=uuid.uuid4().hex,
                            source_size=stat.st_size, source_mtime_ns=stat.st_mtime_ns)
        results.append(result)
        if (path.name, sha) in loaded:
            result.outcome, result.load_id = "unchanged", loaded[(path.name, sha)]
            result.message = "identical to the delivery already loaded; nothing changed"
            continue
        delivery = _Delivery(path, path.name, sha, result.load_id, started, result)
        try:
            _file_attrs(spec, delivery, found)
            names, result.vintage = match_header(spec, path, read_header(path))
            _check_key(spec, path, names, key)
        except FileRejected as rejection:
            _refuse(con, spec, delivery, rejection)
            continue
        groups.setdefault((tuple(names), result.vintage), []).append(delivery)
    step.advance(len(paths) - sum(len(d) for d in groups.values()))    # unchanged or refused by name/header
    with privacy.key_bound(con, key):
        for (names, vintage), deliveries in groups.items():
            for batch in _batches(spec, deliveries, batch_bytes):
                _load_batch(con, spec, batch, list(names), vintage, step)
                step.advance(len(batch), rows=sum(d.result.rows_loaded or 0 for d in batch),
                             nbytes=sum(d.path.stat().st_size for d in batch))
    step.set_phase("")
    return results


def _check_key(spec: SourceSpec, path: Path, names: list[str], key: bytes | None) -> None:
    """A file carrying direct identifiers is loaded only when they can be pseudonymised."""
    carried = [c.header for c in spec.columns if c.identifier and c.name in names]
    if carried and key is None:
        raise FileRejected(
            path, "pseudonymisation_key",
            f"the file carries direct patient identifiers ({len(carried)} column(s)) and no pseudonymisation "
            f"key is configured ({privacy.KEY_ENV}, {privacy.KEY_FILE_ENV} or the Airflow connection "
            f"{privacy.AIRFLOW_CONNECTION}): they are never stored, so nothing from the file was loaded")


def _batches(spec: SourceSpec, deliveries: list[_Delivery], batch_bytes: int):
    """Consecutive batches of about `batch_bytes`. A later delivery of the same file name (or,
    for table and group scopes, any delivery) replaces an earlier one, so those go one at a time
    in the order given."""
    batch, size, names = [], 0, set()
    for delivery in deliveries:
        grows = delivery.path.stat().st_size
        if batch and (spec.replace_scope != "file" or delivery.name in names or size + grows > batch_bytes):
            yield batch
            batch, size, names = [], 0, set()
        batch.append(delivery)
        size += grows
        names.add(delivery.name)
    if batch:
        yield batch


def _name_groups(spec: SourceSpec) -> tuple[str, ...]:
    """The attributes a file name can give: an optional part (a correction's `-r2`) that a name
    lacks is NULL for that file."""
    return tuple(re.compile(spec.file_pattern).groupindex)


def _load_batch(con, spec: SourceSpec, deliveries: list[_Delivery], names: list[str], vintage: str | None,
                step: progress.Step | None = None) -> None:
    attrs = dict.fromkeys(_name_groups(spec), "") | {k: "" for d in deliveries for k in d.attrs}
    if vintage:
        attrs["_vintage"] = vintage
    phase = step.set_phase if step is not None else (lambda _: None)
    files = f"{len(deliveries)} file{'s' if len(deliveries) > 1 else ''}"
    try:
        try:
            phase(f"reading {files}")
            _stage(con, spec, deliveries, names)
        except duckdb.Error:
            if len(deliveries) == 1:
                raise
            for delivery in deliveries:      # a malformed file in the batch: find it, load the rest
                _load_batch(con, spec, [delivery], names, vintage, step)
            return
        except FileRejected as rejection:
            _refuse(con, spec, deliveries[0], rejection)
            return
        phase(f"checking rules on {files}")
        _check_rules(con, spec, deliveries, attrs)
        for delivery in deliveries:
            if delivery.rejection:
                _refuse(con, spec, delivery, delivery.rejection)
        if any(not d.rejection for d in deliveries):
            phase(f"writing {files}")
            _write_batch(con, spec, [d for d in deliveries if not d.rejection], names, attrs)
    finally:
        # scratch objects only (each is created OR REPLACE); a cleanup failing after a fault must
        # not hide the fault
        with contextlib.suppress(duckdb.Error):
            con.execute("DROP VIEW IF EXISTS _staged")
            for table in ("_staged_text", "_file", "_failing", "_delivery"):
                con.execute(f"DROP TABLE IF EXISTS {table}")


def _refuse(con, spec: SourceSpec, delivery: _Delivery, rejection: FileRejected) -> None:
    result = delivery.result
    result.outcome, result.message, result.rejection = "rejected", str(rejection), rejection
    _record_manifest(con, spec, [delivery])


def delivered_files(spec: SourceSpec, path: Path | str, month: str | None = None) -> list[Path]:
    """The files of a source at `path` (a file, or every file below a folder whose name matches
    the source's `file_pattern`), only those of `month` (YYYY-MM) when given and the file name
    says its month."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return [file for file, match in zip(files, match_names(spec.file_pattern, [f.name for f in files]), strict=True)
            if match is not None and (not month or match.get("month") in (None, month))]


def discover_files(spec: SourceSpec, path: Path | str, month: str | None = None
                   ) -> tuple[list[tuple[SourceSpec, Path]], list[FileRejected]]:
    """Each file of a source at `path` with the layout that reads it, and the files refused
    before reading (a force extract no mapping matches)."""
    if spec.discover is not None:
        return spec.discover(Path(path), month)
    return [(spec.layout_for(f), f) for f in delivered_files(spec, path, month)], []


def load_file(con: duckdb.DuckDBPyConnection, spec: SourceSpec, path: Path | str) -> LoadResult:
    """Load one delivered file into `spec.raw_table`. Raises FileRejected (after recording the
    rejection in the manifest) when the file breaks a rule; earlier loads stay intact."""
    result = load_files(con, spec, [path])[0]
    if result.rejection:
        raise result.rejection
    return result


def validate_file(spec: SourceSpec, path: Path | str, as_name: str | None = None, min_rows: int = 1) -> int:
    """Check a file against a source's rules without loading it (e.g. a download before it
    replaces the previous version). Returns the number of data rows; raises FileRejected."""
    path = Path(path)
    delivery = _Delivery(path, as_name or path.name, "", "", datetime.now(),
                         LoadResult(source=spec.name, file=path, outcome="loaded"))
    _file_attrs(spec, delivery)
    names, vintage = match_header(spec, path, read_header(path))
    attrs = {**dict.fromkeys(_name_groups(spec), ""), **delivery.attrs, **({"_vintage": vintage} if vintage else {})}
    with duckdb.connect() as con:
        _stage(con, spec, [delivery], names)
        _check_rules(con, spec, [delivery], attrs)
        if delivery.rejection:
            raise delivery.rejection
        rows = con.execute("SELECT _rows FROM _file").fetchone()[0]
    if rows < min_rows:
        raise FileRejected(path, "min_rows", f"{rows} data rows, fewer than the {min_rows} expected")
    return rows


def _write_batch(con, spec: SourceSpec, accepted: list[_Delivery], names: list[str], attrs: dict[str, str]) -> None:
    """In one transaction: earlier rows of these deliveries out, their rows in (quarantined rows
    aside), manifest rows written. A failure rolls back: nothing is half-written."""
    quarantine = [(i, r) for i, r in enumerate(spec.rules) if r.action == "quarantine_row"]
    select = _bind((spec.select_sql or _default_select)(spec, attrs, names), attrs)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    quarantined = ("SELECT _file_index, _row_number FROM _failing WHERE NOT ("
                   + " AND ".join(f"_ok{i}" for i, _ in quarantine) + ")") if quarantine else None
    accepted_files = "SELECT _source_file FROM _delivery WHERE _accepted"
    con.execute("BEGIN TRANSACTION")
    try:
        if spec.replace_scope == "table":
            con.execute(f"DELETE FROM {spec.raw_table}")
        elif spec.replace_scope.startswith("group:"):
            group = spec.replace_scope.split(":", 1)[1]
            con.execute(f"DELETE FROM {spec.raw_table} WHERE CAST({group} AS VARCHAR) IN "
                        f"(SELECT _attr_{group} FROM _delivery WHERE _accepted)")
        elif con.execute(f"SELECT count(*) FROM raw.load_manifest WHERE outcome = 'loaded' "
                         f"AND source_file IN ({accepted_files})").fetchone()[0]:
            # only a file loaded before has rows to replace (rows and manifest are written in one
            # transaction); a first delivery skips the scan of the whole raw table
            con.execute(f"DELETE FROM {spec.raw_table} WHERE _source_file IN ({accepted_files})")
        # earlier loads of these files, or (table and group scopes) whose rows were all replaced,
        # are now superseded; a file-scoped delivery only ever replaces its own file, so the
        # whole-table scan is not needed there (it made loading a year of files quadratic)
        others = "" if spec.replace_scope == "file" else \
            f" OR load_id NOT IN (SELECT DISTINCT _load_id FROM {spec.raw_table})"
        con.execute(f"""UPDATE raw.load_manifest SET outcome = 'superseded'
                        WHERE outcome = 'loaded' AND source = ? AND (source_file IN ({accepted_files}){others})""",
                    [spec.name])
        con.execute(f"DELETE FROM quarantine.rejected_row WHERE source = ? AND _source_file IN ({accepted_files})",
                    [spec.name])
        con.execute(f"""
            INSERT INTO {spec.raw_table} BY NAME (
                SELECT t.* EXCLUDE ({', '.join(_INTERNAL)}), d._load_id, d._source_file,
                       TIMESTAMP {_sql_str(loaded_at.isoformat(sep=' '))} AS _loaded_at, t._row_number
                FROM ({select}) AS t JOIN _delivery AS d USING (_file_index)
                {f'ANTI JOIN ({quarantined}) AS q USING (_file_index, _row_number)' if quarantined else ''}
                WHERE d._accepted)""")
        if spec.period_sql:
            unit = _bind(spec.reporting_unit.sql, attrs) if spec.reporting_unit else "NULL"
            located = f"count(t.{spec.area_column.name})" if spec.area_column else "count(*)"
            con.execute(f"""
                INSERT INTO raw.load_period BY NAME
                SELECT d._load_id AS load_id, {_sql_str(spec.period_type)} AS period_type,
                       CAST(({spec.period_sql}) AS DATE) AS period_start,
                       CAST(({unit}) AS VARCHAR) AS reporting_unit,
                       count(*) AS records, {located} AS records_located
                FROM ({select}) AS t JOIN _delivery AS d USING (_file_index)
                {f'ANTI JOIN ({quarantined}) AS q USING (_file_index, _row_number)' if quarantined else ''}
                WHERE d._accepted
                GROUP BY ALL""")
        record = ", ".join(f"{c} := s.{c}" for c in _record_columns(con, spec).split(", ")) if quarantine else ""
        for i, rule in quarantine:
            con.execute(
                f"""INSERT INTO quarantine.rejected_row
                    SELECT ?, d._load_id, d._source_file, s._row_number, ?, ?,
                           to_json(struct_pack({record}, _row_number := s._row_number))
                    FROM _staged AS s JOIN _delivery AS d USING (_file_index)
                    SEMI JOIN (SELECT _file_index, _row_number FROM _failing WHERE NOT _ok{i}) USING (_file_index, _row_number)
                    WHERE d._accepted""",
                [spec.name, rule.name, rule.description])
        counts = _batch_counts(con, spec, names, [d.load_id for d in accepted], quarantined, loaded_at)
        for delivery in accepted:
            result = delivery.result
            result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_duplicate = \
                counts.get(delivery.load_id, (0, 0, 0, 0))
        _record_manifest(con, spec, accepted)
        con.execute("COMMIT")
    except BaseException:
        # after a fault (disk full, out of memory) DuckDB may refuse even the rollback; the
        # transaction is then never committed either, and the fault is what the user must see
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def _batch_counts(con, spec: SourceSpec, names: list[str], load_ids: list[str], quarantined: str | None,
                  loaded_at: datetime) -> dict:
    """Per load id: rows read, loaded, quarantined, and identical repeats of an id (police.uk
    repeats some Crime IDs on identical rows: counted here, collapsed in staging). The rows loaded
    are summed from raw.load_period where the source is by period, else counted among those of
    this batch's `_loaded_at`, which DuckDB finds from its row groups' minimum and maximum without
    reading the earlier loads (a year loaded in batches rescanned the growing table per batch)."""
    quarantine = f"SELECT _file_index, count(*) AS n FROM ({quarantined}) GROUP BY ALL" if quarantined else \
        "SELECT NULL::INTEGER AS _file_index, 0 AS n WHERE false"
    duplicate = "SELECT NULL::INTEGER AS _file_index, 0 AS n WHERE false"
    if spec.duplicate_id_column:
        # only ids seen more than once can repeat: the distinct count runs over those rows alone.
        # Read from the staged text itself (the file's own columns are all it needs), the blank
        # test on the outer rows: a third of the time of testing every id first
        content = ", ".join(n for n in names if not n.startswith("_ignored_"))
        idc = spec.duplicate_id_column
        duplicate = f"""SELECT _file_index, count(*) - count(DISTINCT ({content})) AS n FROM _staged_text
                        SEMI JOIN (SELECT _file_index, {idc} FROM _staged_text WHERE {idc} IS NOT NULL
                                   GROUP BY ALL HAVING count(*) > 1) USING (_file_index, {idc})
                        WHERE nullif(trim({idc}), '') IS NOT NULL
                        GROUP BY ALL"""
    # a source by period has just counted its loaded rows into raw.load_period (by period and
    # unit): their sum is the file's, without reading the rows again
    loaded = ("""SELECT load_id AS _load_id, sum(records) AS n FROM raw.load_period
                  WHERE load_id IN (SELECT unnest($ids)) GROUP BY ALL""" if spec.period_sql else
              f"""SELECT _load_id, count(*) AS n FROM {spec.raw_table}
                  WHERE _loaded_at = $loaded_at AND _load_id IN (SELECT unnest($ids)) GROUP BY ALL""")
    rows = con.execute(f"""
        WITH loaded AS ({loaded}),
             quarantined AS ({quarantine}),
             duplicate AS ({duplicate})
        SELECT d._load_id, f._rows, coalesce(l.n, 0), coalesce(q.n, 0), coalesce(r.n, 0)
        FROM _delivery AS d JOIN _file AS f USING (_file_index)
        LEFT JOIN loaded AS l ON l._load_id = d._load_id
        LEFT JOIN quarantined AS q ON q._file_index = d._file_index
        LEFT JOIN duplicate AS r ON r._file_index = d._file_index
        WHERE d._load_id IN (SELECT unnest($ids))""",
        {"ids": load_ids, **({} if spec.period_sql else {"loaded_at": loaded_at})}).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def _record_manifest(con, spec: SourceSpec, deliveries: list[_Delivery]) -> None:
    """The deliveries' manifest rows, in one statement (a batch is often a hundred files)."""
    finished = datetime.now(UTC).replace(tzinfo=None)
    values = []
    for d in deliveries:
        result = d.result
        if result.outcome != "loaded":
            check_status = "not_checked"
        else:
            check_status = "pending" if spec.gx_suite else "not_required"
        values += [d.load_id, spec.name, d.path.name, str(d.path), d.sha, result.vintage, d.started, finished,
                   result.outcome, result.rows_read, result.rows_loaded, result.rows_quarantined,
                   result.message, check_status, result.rows_duplicate, result.source_size, result.source_mtime_ns]
    row = "(" + ", ".join(["?"] * 17) + ")"
    con.execute(
        f"""INSERT INTO raw.load_manifest (load_id, source, source_file, source_path, source_sha256, vintage,
               started_at, finished_at, outcome, rows_read, rows_loaded, rows_quarantined, message,
               check_status, rows_duplicate, source_size, source_mtime_ns)
            VALUES {", ".join([row] * len(deliveries))}""", values)
