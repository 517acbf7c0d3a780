"""Generic loader: one delivered file → one raw table, with load metadata and a manifest.

A source is declared as data (`SourceSpec`: columns found by header name, rules, how a delivery
replaces earlier ones); this module does the rest with DuckDB's own CSV reader, set-based:

1. header checked by column name (never position); vintage years read from names like LAD24CD;
2. the file is staged as text with its data row numbers; structural rules reject the whole file
   with the file, row and rule named; row rules send rows to `quarantine.rejected_row`;
3. in one transaction the delivery's earlier rows are replaced, quarantine and manifest written.
   A failure rolls back, so nothing already loaded is lost or half-written; an unchanged file
   (same name and sha256 as the last accepted load) is skipped, so re-running changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import duckdb

class FileRejected(ValueError):
    """A delivery was refused. The message names the file, the row (if any) and the rule."""

    def __init__(self, file: Path, rule: str, detail: str, row: int | None = None):
        self.file, self.rule, self.detail, self.row = Path(file), rule, detail, row
        where = f"{self.file.name}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: rule '{rule}' failed: {detail}")


@dataclass(frozen=True)
class Column:
    """A column found by header name. `header` is a regex; a `(?P<vintage>..)` group captures
    the two-digit vintage year that ONS puts in field names (LAD24CD → '24')."""

    header: str
    name: str
    sql_type: str = "VARCHAR"
    required: bool = True


@dataclass(frozen=True)
class Rule:
    """`check` is a SQL predicate over the staged text columns, true when a row is acceptable.
    `reject_file`: the file is malformed and refused whole; `quarantine_row`: the row is set aside."""

    name: str
    check: str
    description: str
    action: Literal["reject_file", "quarantine_row"] = "reject_file"


@dataclass(frozen=True)
class SourceSpec:
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
    select_sql: Callable[["SourceSpec", dict[str, str], list[str]], str] | None = None
    extra_columns_pattern: str | None = None  # regex of further columns kept (wide layouts)
    description: str = ""
    raw_ddl: str = ""
    # Great Expectations suite that must pass before the delivery reaches dbt (None: the load
    # rules are the whole check, as for reference lookups)
    gx_suite: str | None = None
    # records repeated identically under the same id (police.uk repeats some Crime IDs): counted
    # in the manifest here, collapsed to one in staging
    duplicate_id_column: str | None = None


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
    """The header row by name; a UTF-8 byte-order mark (common in ONS and police files) is removed."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        row = next(csv.reader(handle), None)
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
        unexpected = [h for h, s in zip(header, staged) if s is None]
        hint = f"; columns not recognised: {', '.join(repr(u) for u in unexpected)}" if unexpected else ""
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
    for column in spec.columns:
        if column.name not in staged:
            exprs.append(f"CAST(NULL AS {column.sql_type}) AS {column.name}")
        elif column.sql_type == "VARCHAR":
            exprs.append(f"NULLIF(TRIM({column.name}), '') AS {column.name}")
        else:
            exprs.append(f"CAST(NULLIF(TRIM({column.name}), '') AS {column.sql_type}) AS {column.name}")
    return "SELECT " + ", ".join(exprs) + ", _row_number FROM _staged"


def ensure_tables(con: duckdb.DuckDBPyConnection, spec: SourceSpec | None = None) -> None:
    con.execute(MANIFEST_DDL)
    if spec is not None and spec.raw_ddl:
        con.execute(spec.raw_ddl)


def _stage(con: duckdb.DuckDBPyConnection, path: Path, names: list[str]) -> int:
    """Read the file as text into `_staged` with 1-based data row numbers, in file order."""
    columns = "{" + ", ".join(f"{_sql_str(n)}: 'VARCHAR'" for n in names) + "}"
    con.execute("DROP TABLE IF EXISTS _staged")
    try:
        con.execute(
            f"""CREATE TEMP TABLE _staged AS
                SELECT row_number() OVER () AS _row_number, *
                FROM read_csv({_sql_str(str(path))}, header = true, columns = {columns},
                              delim = ',', quote = '"', escape = '"', strict_mode = true, auto_detect = false,
                              null_padding = false, encoding = 'utf-8')"""
        )
    except duckdb.Error as error:
        text = str(error)
        line = re.search(r"[Ll]ine:? (\d+)", text)
        row = int(line.group(1)) - 1 if line else None
        # keep DuckDB's own explanation ("Expected Number of Columns: 12 Found: 13"), not its hints
        detail = [l for l in text.splitlines()[1:3] if l.strip() and not l.startswith("Possible")]
        message = "; ".join(detail) or text.splitlines()[0]
        if line:
            message = f"file line {line.group(1)} is not a valid CSV record: {message}"
        raise FileRejected(path, "csv_structure", message, row=row) from None
    return con.execute("SELECT count(*) FROM _staged").fetchone()[0]


def _bind(check: str, attrs: dict[str, str]) -> str:
    """Put delivery attributes (from the file name) into a rule as SQL literals: {month} → '2024-01'."""
    for key, value in attrs.items():
        check = check.replace("{" + key + "}", _sql_str(value))
    return check


def _failing_rows(check: str) -> str:
    """Row numbers of `_staged` for which a rule's predicate is not true. The predicate is
    evaluated in a projection because DuckDB expands *COLUMNS(...) only there."""
    return (f"SELECT _row_number FROM (SELECT _row_number, ({check}) AS _ok FROM _staged) "
            "WHERE NOT coalesce(_ok, false)")


def _check_file_rules(con, spec: SourceSpec, path: Path, attrs: dict[str, str]) -> None:
    rules = [r for r in spec.rules if r.action == "reject_file"]
    if rules:
        # one pass over the file for every rule: the first failing row and the count per rule
        checks = ", ".join(f"min(_row_number) FILTER (WHERE NOT coalesce(_ok{i}, false)), "
                           f"count(*) FILTER (WHERE NOT coalesce(_ok{i}, false))" for i in range(len(rules)))
        predicates = ", ".join(f"({_bind(r.check, attrs)}) AS _ok{i}" for i, r in enumerate(rules))
        found = con.execute(f"SELECT {checks} FROM (SELECT _row_number, {predicates} FROM _staged)").fetchone()
        for i, rule in enumerate(rules):
            row, count = found[2 * i], found[2 * i + 1]
            if not count:
                continue
            record = con.execute(
                "SELECT * EXCLUDE (_row_number) FROM _staged WHERE _row_number = ?", [row]
            ).fetchdf().iloc[0].to_dict()
            shown = {k: v for k, v in record.items() if not k.startswith("_ignored_")}
            raise FileRejected(
                path, rule.name,
                f"{rule.description} ({count} row(s) fail; first is {shown})", row=row,
            )
    if spec.unique_key:
        key = ", ".join(spec.unique_key)
        dup = con.execute(
            f"SELECT {key}, min(_row_number), max(_row_number), count(*) FROM _staged "
            f"GROUP BY {key} HAVING count(*) > 1 ORDER BY 2 LIMIT 1"
        ).fetchone()
        if dup:
            raise FileRejected(
                path, "unique_key",
                f"{key} {dup[:-3]} appears {dup[-1]} times (rows {dup[-3]} and {dup[-2]})",
                row=dup[-2],
            )


def load_file(con: duckdb.DuckDBPyConnection, spec: SourceSpec, path: Path | str) -> LoadResult:
    """Load one delivered file into `spec.raw_table`. Raises FileRejected (after recording the
    rejection in the manifest) when the file breaks a rule; earlier loads stay intact."""
    path = Path(path).resolve()
    ensure_tables(con, spec)
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    sha = sha256_of(path)
    result = LoadResult(source=spec.name, file=path, outcome="loaded")

    previous = con.execute(
        "SELECT load_id FROM raw.load_manifest WHERE source = ? AND source_file = ? "
        "AND source_sha256 = ? AND outcome = 'loaded'",
        [spec.name, path.name, sha],
    ).fetchone()
    if previous:
        result.outcome, result.load_id = "unchanged", previous[0]
        result.message = "identical to the delivery already loaded; nothing changed"
        return result

    load_id = uuid.uuid4().hex
    result.load_id = load_id
    try:
        attrs, names, result.vintage, result.rows_read = _inspect(con, spec, path)
        _write_delivery(con, spec, path, sha, load_id, attrs, names, started, result)
    except FileRejected as rejection:
        result.outcome, result.message = "rejected", str(rejection)
        _record_manifest(con, spec, path, sha, load_id, started, result)
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS _staged")
    return result


def _inspect(con, spec: SourceSpec, path: Path, as_name: str | None = None):
    """Name, header, CSV structure and file-level rules; leaves the file staged in `_staged`.
    Returns (delivery attributes, staged column names, vintage, data rows)."""
    name = as_name or path.name
    found = re.fullmatch(spec.file_pattern, name)
    if not found:
        raise FileRejected(path, "file_name", f"name {name!r} does not match {spec.file_pattern!r}")
    attrs = {k: v for k, v in found.groupdict().items() if v is not None}
    names, vintage = match_header(spec, path, read_header(path))
    if vintage:
        attrs["_vintage"] = vintage
    rows = _stage(con, path, names)
    for column in spec.columns:              # optional columns absent from this file: NULL
        if column.name not in names:
            con.execute(f"ALTER TABLE _staged ADD COLUMN {column.name} VARCHAR")
    if rows == 0:
        raise FileRejected(path, "has_rows", "the file has a header but no data rows")
    _check_file_rules(con, spec, path, attrs)
    return attrs, names, vintage, rows


def validate_file(spec: SourceSpec, path: Path | str, as_name: str | None = None, min_rows: int = 1) -> int:
    """Check a file against a source's rules without loading it (e.g. a download before it
    replaces the previous version). Returns the number of data rows; raises FileRejected."""
    path = Path(path)
    with duckdb.connect() as con:
        rows = _inspect(con, spec, path, as_name)[3]
    if rows < min_rows:
        raise FileRejected(path, "min_rows", f"{rows} data rows, fewer than the {min_rows} expected")
    return rows


def _write_delivery(con, spec, path, sha, load_id, attrs, names, started, result) -> None:
    quarantine_rules = [r for r in spec.rules if r.action == "quarantine_row"]
    failing = " UNION ".join(_failing_rows(_bind(r.check, attrs)) for r in quarantine_rules)
    select = (spec.select_sql or _default_select)(spec, attrs, names)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    meta = (f"{_sql_str(load_id)} AS _load_id, {_sql_str(path.name)} AS _source_file, "
            f"{_sql_str(sha)} AS _source_sha256, TIMESTAMP {_sql_str(loaded_at.isoformat(sep=' '))} AS _loaded_at")
    accepted = f"WITH _typed AS ({select}) SELECT * EXCLUDE (_row_number), {meta}, _row_number FROM _typed"
    if failing:
        accepted += f" WHERE _row_number NOT IN ({failing})"

    con.execute("BEGIN TRANSACTION")
    try:
        if spec.replace_scope == "table":
            con.execute(f"DELETE FROM {spec.raw_table}")
        elif spec.replace_scope.startswith("group:"):
            group = spec.replace_scope.split(":", 1)[1]
            con.execute(f"DELETE FROM {spec.raw_table} WHERE {group} = ?", [attrs[group]])
        else:
            con.execute(f"DELETE FROM {spec.raw_table} WHERE _source_file = ?", [path.name])
        # earlier loads of this file, or (table and group scopes) whose rows were all replaced,
        # are now superseded; a file-scoped delivery only ever replaces its own file, so the
        # whole-table scan is not needed there (it made loading a year of files quadratic)
        others = "" if spec.replace_scope == "file" else \
            f" OR load_id NOT IN (SELECT DISTINCT _load_id FROM {spec.raw_table})"
        con.execute(
            f"""UPDATE raw.load_manifest SET outcome = 'superseded'
                WHERE outcome = 'loaded' AND source = ? AND (source_file = ?{others})""",
            [spec.name, path.name],
        )
        con.execute("DELETE FROM quarantine.rejected_row WHERE source = ? AND _source_file = ?",
                    [spec.name, path.name])
        result.rows_loaded = con.execute(f"INSERT INTO {spec.raw_table} BY NAME ({accepted})").fetchone()[0]
        for rule in quarantine_rules:
            con.execute(
                f"""INSERT INTO quarantine.rejected_row
                    SELECT ?, ?, ?, s._row_number, ?, ?, to_json(s) FROM _staged AS s
                    WHERE s._row_number IN ({_failing_rows(_bind(rule.check, attrs))})""",
                [spec.name, load_id, path.name, rule.name, rule.description],
            )
        if spec.duplicate_id_column:
            content = ", ".join(n for n in names if not n.startswith("_ignored_"))
            result.rows_duplicate = con.execute(
                f"SELECT count(*) - count(DISTINCT ({content})) FROM _staged "
                f"WHERE nullif(trim({spec.duplicate_id_column}), '') IS NOT NULL"
            ).fetchone()[0]
        result.rows_quarantined = con.execute(
            "SELECT count(DISTINCT _row_number) FROM quarantine.rejected_row WHERE _load_id = ?", [load_id]
        ).fetchone()[0]
        _record_manifest(con, spec, path, sha, load_id, started, result)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _record_manifest(con, spec, path, sha, load_id, started, result: LoadResult) -> None:
    finished = datetime.now(timezone.utc).replace(tzinfo=None)
    if result.outcome != "loaded":
        check_status = "not_checked"
    else:
        check_status = "pending" if spec.gx_suite else "not_required"
    con.execute(
        """INSERT INTO raw.load_manifest (load_id, source, source_file, source_path, source_sha256, vintage,
               started_at, finished_at, outcome, rows_read, rows_loaded, rows_quarantined, message,
               check_status, rows_duplicate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [load_id, spec.name, path.name, str(path), sha, result.vintage, started, finished,
         result.outcome, result.rows_read, result.rows_loaded, result.rows_quarantined,
         result.message, check_status, result.rows_duplicate],
    )
