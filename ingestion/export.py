"""Export the published warehouse as files for people who do not use SQL (`vru export DIR`).

Everything is read from the published file through one read-only connection (never the working
warehouse, never the writer lock), so an export runs while the pipeline writes and all its files
come from one published state: publish replaces the file by a rename, and an open connection goes
on reading the file it opened.

What an export folder holds:
  - every table and view of the published file's `main` schema (the marts and the provenance
    tables), one Parquet or CSV file each, written by DuckDB `COPY … TO`. fct_indicator_value, and
    any other table with an indicator_id column over PARTITION_ROWS rows, is a folder with one
    Hive-style subfolder per indicator (`fct_indicator_value/indicator_id=…/`), so one indicator
    can be opened alone; its Parquet files leave the column to the folder name, as Hive does, its
    CSV files keep it (a spreadsheet opens one file).
  - data_dictionary.csv and data_dictionary.md: every exported table and column, its type and its
    description. Descriptions are the published file's own (DuckDB COMMENT ON) where it has them,
    else the dbt YAML's (models/marts for the marts, the pipeline source for the provenance
    tables); a view's column without either takes the description of the column of the same name
    in the table the view reads. Nothing here restates a description.
  - indicator_values_fingertips.csv: fct_indicator_value in the column layout OHID Fingertips uses
    for its data downloads (FINGERTIPS_COLUMNS).

Rows are written in the order of all their columns (ORDER BY ALL; partitions one COPY each, since
DuckDB's PARTITION_BY writes in no fixed order), so the same published file gives the same bytes.
The folder is written beside DIR and swapped in whole (an atomic exchange where the system has
one), so a reader never meets a half-written export; a folder that is neither empty nor an earlier
export is never replaced.
"""

from __future__ import annotations

import csv
import ctypes
import errno
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ingestion import progress
from ingestion.errors import VruError
from ingestion.settings import Settings, get_settings

FORMATS = ("parquet", "csv")
# a table over this many rows with an indicator_id column is written one folder per indicator
PARTITION_ROWS = 1_000_000
ALWAYS_PARTITIONED = ("fct_indicator_value",)
PARTITION_COLUMN = "indicator_id"
DICTIONARY_CSV = "data_dictionary.csv"
DICTIONARY_MD = "data_dictionary.md"
FINGERTIPS_CSV = "indicator_values_fingertips.csv"
FINGERTIPS_TABLE = "indicator_values_fingertips"
# marks a folder as an export, which the next export may replace whole
MARKER = ".vru-export"
MARKER_TEXT = "Written by `vru export`: the next export to this folder replaces it whole.\n"

# The columns of Fingertips' data download (its header, in its order: the real file is
# ../shared/realdata/fingertips/indicators-CountyUA.data.csv) filled from fct_indicator_value `f`
# and the tables joined to it in _fingertips_select. Each: header, SQL, the published columns it
# is read from (whose descriptions the data dictionary gives), and how it is made from them.
# "Compared to Region value or percentiles" keeps the real file's name (Fingertips names it after
# the download's parent area type); it holds the comparison with the row's Parent Code area, the
# comparator of fct_indicator_value, which is the force area for areas inside a force.
_IN_WORDS = "In Fingertips' words (Better, Similar, Worse, Higher, Lower, Not compared)."
_NO_CATEGORY = "Empty: no indicator is split by category."
FINGERTIPS_COLUMNS: list[tuple[str, str, tuple[str, ...], str]] = [
    ("Indicator ID", "f.indicator_id", ("fct_indicator_value.indicator_id",), ""),
    ("Indicator Name", "i.indicator_name", ("dim_indicator.indicator_name",), ""),
    ("Parent Code", "f.comparator_area_code", ("fct_indicator_value.comparator_area_code",), ""),
    ("Parent Name", "parent.area_name", ("dim_area.area_name",), "The name of the Parent Code area."),
    ("Area Code", "f.area_code", ("fct_indicator_value.area_code",), ""),
    ("Area Name", "a.area_name", ("dim_area.area_name",), ""),
    ("Area Type", "coalesce(level.level_name, f.area_type)", ("fct_indicator_value.area_type",),
     "The area level's name (dbt_project.yml vars.area_levels)."),
    ("Sex", "'Persons'", (), "Persons: no indicator is split by sex."),
    ("Age", "coalesce(age.age, 'All ages')", (),
     ("The ages the indicator counts, from its catalogue entry (dbt_project.yml vars.indicators: its ages, or "
      "its denominator's age group); All ages when it counts every age.")),
    ("Category Type", "NULL::VARCHAR", (), _NO_CATEGORY),
    ("Category", "NULL::VARCHAR", (), _NO_CATEGORY),
    ("Time period", "p.period_label", ("dim_period.period_label",), ""),
    ("Value", "f.value", ("fct_indicator_value.value",), ""),
    ("Lower CI 95.0 limit", "f.lower_ci_95", ("fct_indicator_value.lower_ci_95",), ""),
    ("Upper CI 95.0 limit", "f.upper_ci_95", ("fct_indicator_value.upper_ci_95",), ""),
    ("Lower CI 99.8 limit", "f.lower_ci_998", ("fct_indicator_value.lower_ci_998",), ""),
    ("Upper CI 99.8 limit", "f.upper_ci_998", ("fct_indicator_value.upper_ci_998",), ""),
    ("Count", "{whole}(f.numerator)", ("fct_indicator_value.numerator",), "Whole numbers without decimals."),
    ("Denominator", "{whole}(f.denominator)", ("fct_indicator_value.denominator",), "Whole numbers without decimals."),
    ("Value note", "{sentence}(nullif(concat_ws('; ', f.value_note, f.suppression_reason), ''))",
     ("fct_indicator_value.value_note", "fct_indicator_value.suppression_reason"),
     "Why there is no value: the value note, then the suppression reason."),
    ("Recent Trend",
     "CASE WHEN t.trend = 'could not be calculated' THEN 'Cannot be calculated' ELSE {sentence}(t.trend) END",
     ("fct_indicator_trend.trend",),
     ("In Fingertips' words, on the row of the latest period the trend was tested to (yearly period types only: "
      "consecutive years, or rolling 12 months a year apart); empty on the other rows, and on every month and "
      "quarter row: a monthly or quarterly series is never tested, its ups and downs being mostly season.")),
    ("Compared to England value or percentiles", "{sentence}(coalesce(f.comparison_with_england, 'not compared'))",
     ("fct_indicator_value.comparison_with_england",), _IN_WORDS),
    ("Compared to Region value or percentiles", "{sentence}(coalesce(f.comparison, 'not compared'))",
     ("fct_indicator_value.comparison",),
     "The comparison with the Parent Code area (the column keeps the name Fingertips gives it). " + _IN_WORDS),
    ("Time period Sortable",
     ("year(f.period_start) * 10000 + CASE WHEN ptype.months = 3 THEN quarter(f.period_start) * 100 "
      "WHEN ptype.months = 12 AND NOT ptype.rolling THEN 0 ELSE month(f.period_start) END"), (),
     ("A sort key, as Fingertips writes it: the period's start year × 10000, plus the quarter × 100 for a "
      "quarter, plus the month for a month or a rolling 12 months.")),
    ("New data", "NULL::VARCHAR", (), "Empty: the platform does not mark new data."),
    ("Compared to goal", "NULL::VARCHAR", (), "Empty: the platform sets no goals."),
]


class NothingPublished(VruError):
    hint = "publish the checked marts first (`vru publish`, or `vru demo`)"


class ExportRefused(VruError):
    hint = "give a new or empty folder, or the folder of an earlier `vru export`"


@dataclass(frozen=True)
class ExportedTable:
    name: str
    kind: str                    # table or view
    rows: int
    path: str                    # relative to the export folder; a folder ends in /
    partitions: int | None       # indicator folders, when partitioned


@dataclass
class ExportResult:
    directory: Path
    format: str
    tables: list[ExportedTable] = field(default_factory=list)
    fingertips_rows: int = 0
    dictionary_columns: int = 0

    def summary(self) -> str:
        rows = sum(t.rows for t in self.tables)
        return (f"{len(self.tables)} tables and views ({rows:,} rows) as {self.format}, {FINGERTIPS_CSV} "
                f"({self.fingertips_rows:,} rows) and the data dictionary ({self.dictionary_columns:,} columns)")


def export(directory: Path | str, fmt: str = "parquet", settings: Settings | None = None,
           partition_rows: int = PARTITION_ROWS, reporter: progress.Reporter | None = None) -> ExportResult:
    """Write the export to a folder beside `directory`, then swap it in (module docstring).
    Progress (progress.py): a step "export" counting the files written (each table and view, the
    Fingertips-style file, the data dictionary) and their rows."""
    from ingestion.warehouse import reader

    settings = settings or get_settings()
    if fmt not in FORMATS:
        raise ExportRefused(f"--format {fmt}: give {' or '.join(FORMATS)}")
    published = settings.published_db
    if not published.exists():
        raise NothingPublished(f"nothing has been published yet ({published} does not exist)")
    target = Path(directory).absolute()
    _check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target)
    staging = target.parent / f".{target.name}.export-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    result = ExportResult(target, fmt)
    try:
        with reader(published) as con, progress.current(reporter).step(
                "export", total=_object_count(con) + 2, unit="files") as step:
            result.tables = _export_tables(con, staging, fmt, partition_rows, step)
            step.set_phase(FINGERTIPS_CSV)
            result.fingertips_rows = _export_fingertips(con, staging / FINGERTIPS_CSV)
            step.advance(rows=result.fingertips_rows)
            step.set_phase("data dictionary")
            entries = dictionary_entries(con, result.tables)
            result.dictionary_columns = sum(1 for e in entries if e["column"])
            _write_dictionary(staging, entries, result.tables, fmt)
            step.advance()
        (staging / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


# --- the tables -------------------------------------------------------------------------------

def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _copy(con, select: str, path: Path, fmt: str) -> None:
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    con.execute(f"COPY ({select}) TO {_literal(path)} ({options})").fetchall()


_OBJECTS = """
    SELECT table_name, CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END
    FROM information_schema.tables
    WHERE table_catalog = current_database() AND table_schema = 'main'
    ORDER BY table_type = 'VIEW', table_name"""


def _object_count(con) -> int:
    return len(con.execute(_OBJECTS).fetchall())


def _export_tables(con, folder: Path, fmt: str, partition_rows: int, step: progress.Step) -> list[ExportedTable]:
    objects = con.execute(_OBJECTS).fetchall()
    exported = []
    for name, kind in objects:
        step.set_phase(name)
        columns = [c for (c,) in con.execute("""
            SELECT column_name FROM information_schema.columns
            WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ?
            ORDER BY ordinal_position""", [name]).fetchall()]
        rows = con.execute(f"SELECT count(*) FROM {_ident(name)}").fetchall()[0][0]
        if PARTITION_COLUMN in columns and (name in ALWAYS_PARTITIONED or rows > partition_rows):
            partitions = _export_partitioned(con, name, folder / name, fmt, step)
            exported.append(ExportedTable(name, kind, rows, f"{name}/", partitions))
        else:
            _copy(con, f"SELECT * FROM {_ident(name)} ORDER BY ALL", folder / f"{name}.{fmt}", fmt)
            exported.append(ExportedTable(name, kind, rows, f"{name}.{fmt}", None))
        step.advance(rows=rows)
    return exported


def _export_partitioned(con, name: str, folder: Path, fmt: str, step: progress.Step | None = None) -> int:
    """One Hive-style folder per indicator (`indicator_id=…`, `__HIVE_DEFAULT_PARTITION__` for none),
    each one COPY of that indicator's rows."""
    column = _ident(PARTITION_COLUMN)
    folder.mkdir()
    values = [v for (v,) in con.execute(
        f"SELECT DISTINCT {column} FROM {_ident(name)} ORDER BY 1 NULLS LAST").fetchall()]
    # Parquet readers take the column from the folder name (Hive); a spreadsheet opens one CSV file
    selected = f"* EXCLUDE ({column})" if fmt == "parquet" else "*"
    for n, value in enumerate(values, 1):
        if step is not None:
            step.set_phase(f"{name}, indicator {n}/{len(values)}")
        where = f"{column} IS NULL" if value is None else f"{column} = {_literal(value)}"
        part = folder / f"{PARTITION_COLUMN}={'__HIVE_DEFAULT_PARTITION__' if value is None else quote(str(value), safe='')}"
        part.mkdir()
        _copy(con, f"SELECT {selected} FROM {_ident(name)} WHERE {where} ORDER BY ALL", part / f"{name}.{fmt}", fmt)
    return len(values)


# --- the Fingertips-style file ------------------------------------------------------------------

def _values(name: str, columns: list[str], rows: list[tuple]) -> str:
    """A CTE of literal rows (with no row when there are none)."""
    def sql(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return "NULL" if v is None else _literal(v)
    body = ", ".join("(" + ", ".join(sql(v) for v in row) + ")" for row in rows)
    return f"{name} ({', '.join(columns)}) AS (SELECT * FROM (VALUES {body}))" if rows else \
        f"{name} ({', '.join(columns)}) AS (SELECT {', '.join('NULL' for _ in columns)} WHERE false)"


def _indicator_ages() -> list[tuple[str, str]]:
    """The ages each indicator of the catalogue counts, in Fingertips' words ('10-24 yrs',
    '<25 yrs'), where it restricts them: its ages (age-standardised rates), else its denominator's
    population column (population_aged_10_24, population_aged_under_25)."""
    from ingestion.codes import dbt_vars

    ages = []
    for indicator in dbt_vars().get("indicators") or []:
        population = str((indicator.get("denominator") or {}).get("population") or "")
        if indicator.get("ages"):
            low, high = indicator["ages"]
            ages.append((indicator["id"], f"{low}-{high} yrs"))
        elif found := re.fullmatch(r"population_aged_(\d+)_(\d+)", population):
            ages.append((indicator["id"], f"{found.group(1)}-{found.group(2)} yrs"))
        elif found := re.fullmatch(r"population_aged_under_(\d+)", population):
            ages.append((indicator["id"], f"<{found.group(1)} yrs"))
    return ages


def _fingertips_select() -> str:
    from ingestion.codes import AREA_LEVELS, PERIOD_TYPES

    levels = [(level.type, level.name, rank) for rank, level in enumerate(AREA_LEVELS.values())]
    periods = [(p.type, p.months, p.rolling, rank) for rank, p in enumerate(PERIOD_TYPES.values())]
    macros = {"whole": "_vru_whole", "sentence": "_vru_sentence"}
    columns = ",\n    ".join(f"{sql.format(**macros)} AS {_ident(header)}" for header, sql, _, _ in FINGERTIPS_COLUMNS)
    return f"""
WITH {_values("age", ["indicator_id", "age"], _indicator_ages())},
{_values("level", ["area_type", "level_name", "level_rank"], levels)},
{_values("ptype", ["period_type", "months", "rolling", "period_rank"], periods)},
parent AS (SELECT area_code, min(area_name) AS area_name FROM dim_area GROUP BY area_code)
SELECT
    {columns}
FROM fct_indicator_value AS f
LEFT JOIN dim_indicator AS i ON i.indicator_id = f.indicator_id
LEFT JOIN dim_area AS a ON a.area_code = f.area_code AND a.area_type = f.area_type
LEFT JOIN parent ON parent.area_code = f.comparator_area_code
LEFT JOIN dim_period AS p ON p.period_type = f.period_type AND p.period_start = f.period_start
LEFT JOIN fct_indicator_trend AS t
    ON t.indicator_id = f.indicator_id AND t.area_code = f.area_code AND t.area_type = f.area_type
   AND t.period_type = f.period_type AND t.latest_period_start = f.period_start
LEFT JOIN age ON age.indicator_id = f.indicator_id
LEFT JOIN level ON level.area_type = f.area_type
LEFT JOIN ptype ON ptype.period_type = f.period_type
ORDER BY f.indicator_id, level.level_rank DESC NULLS LAST, f.area_type, f.area_code,
         ptype.period_rank NULLS LAST, f.period_type, f.period_start"""


def _macros(con) -> None:
    """The two formats _fingertips_select uses (temporary: the published file is not written)."""
    con.execute("CREATE OR REPLACE TEMP MACRO _vru_sentence(x) AS upper(left(x, 1)) || substr(x, 2)").fetchall()
    con.execute("CREATE OR REPLACE TEMP MACRO _vru_whole(x) AS CASE WHEN x = trunc(x) AND abs(x) < 1e15 "
                "THEN CAST(CAST(x AS BIGINT) AS VARCHAR) ELSE CAST(x AS VARCHAR) END").fetchall()


def _export_fingertips(con, path: Path) -> int:
    """fct_indicator_value in Fingertips' download layout: one row per indicator × area × period,
    the area and period as the indicator mart keys them (a unitary authority is a row as a district
    and one as an upper tier, told apart by Area Type), written with Fingertips' CRLF line ends."""
    _macros(con)
    return con.execute(f"COPY ({_fingertips_select()}) TO {_literal(path)} "
                       "(FORMAT csv, HEADER true, NEW_LINE '\\r\\n')").fetchall()[0][0]


# --- the data dictionary ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Described:
    description: str
    columns: dict[str, str]
    where: str


def _text(value) -> str:
    return " ".join(str(value or "").split())


def dbt_descriptions() -> dict[str, _Described]:
    """The descriptions the dbt YAML gives the published tables (published_metadata reads it):
    the mart models, then the tables of its sources (the pipeline's provenance tables)."""
    from ingestion.published_metadata import dbt_declarations

    dbt = dbt_declarations()
    found = {name: _Described(_text(m.description), {c: _text(d) for c, d in m.columns.items()}, f"dbt {m.path}")
             for name, m in dbt.models.items() if m.path.startswith("models/marts/")}
    for (source, table), m in sorted(dbt.sources.items(), key=lambda item: item[1].path):
        found.setdefault(table, _Described(_text(m.description), {c: _text(d) for c, d in m.columns.items()},
                                           f"dbt {m.path} (source {source})"))
    return found


def dictionary_entries(con, tables: list[ExportedTable]) -> list[dict[str, str]]:
    """One entry per exported table (column empty) and per column: its type and description, and
    where the description comes from."""
    dbt = dbt_descriptions()
    table_comments = dict(con.execute("""
        SELECT table_name, comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'
        UNION ALL
        SELECT view_name, comment FROM duckdb_views()
        WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal""").fetchall())
    view_sql = dict(con.execute("""SELECT view_name, sql FROM duckdb_views()
        WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal""").fetchall())
    columns: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, data_type, comment in con.execute("""
            SELECT table_name, column_name, data_type, comment FROM duckdb_columns()
            WHERE database_name = current_database() AND schema_name = 'main'
            ORDER BY table_name, column_index""").fetchall():
        columns.setdefault(table, []).append((column, data_type, _text(comment)))
    names = [t.name for t in tables]

    def described(table: str, column: str, comment: str = "") -> tuple[str, str]:
        if comment:
            return comment, "published file (COMMENT ON)"
        if table in dbt and dbt[table].columns.get(column):
            return dbt[table].columns[column], dbt[table].where
        if table in view_sql:                 # a view's column: that of the table it reads
            read = sorted((m.start(), t) for t in names if t != table
                          and (m := re.search(rf"\b{re.escape(t)}\b", view_sql[table])))
            for _, source in read:
                for name, _, source_comment in columns.get(source, []):
                    if name == column and (found := described(source, column, source_comment))[0]:
                        return found[0], f"{source}.{column} (the view reads {source})"
        return "", ""

    entries = []
    for table in tables:
        comment = _text(table_comments.get(table.name))
        about, where = ((comment, "published file (COMMENT ON)") if comment else
                        (dbt[table.name].description, dbt[table.name].where) if table.name in dbt and
                        dbt[table.name].description else ("", ""))
        entries.append({"table": table.name, "column": "", "data_type": table.kind, "description": about,
                        "description_from": where})
        for column, data_type, column_comment in columns.get(table.name, []):
            text, where = described(table.name, column, column_comment)
            entries.append({"table": table.name, "column": column, "data_type": data_type, "description": text,
                            "description_from": where})
    entries += _fingertips_entries(con, entries)
    return entries


def _fingertips_entries(con, entries: list[dict[str, str]]) -> list[dict[str, str]]:
    _macros(con)
    types = {name: data_type for name, data_type, *_ in con.execute(f"DESCRIBE {_fingertips_select()}").fetchall()}
    known = {(e["table"], e["column"]): e["description"] for e in entries}
    rows = [{"table": FINGERTIPS_TABLE, "column": "", "data_type": "file",
             "description": "fct_indicator_value with the names of its indicator, area, parent area and period and its "
                            "recent trend, in the column layout of OHID Fingertips' data downloads: one row per "
                            "indicator × area × period.", "description_from": "ingestion/export.py"}]
    for header, _, sources, how in FINGERTIPS_COLUMNS:
        parts = [how] if how else []
        parts += [f"{source}: {known.get(tuple(source.split('.', 1)), '')}".rstrip(": ") for source in sources]
        rows.append({"table": FINGERTIPS_TABLE, "column": header, "data_type": types[header],
                     "description": " ".join(parts), "description_from": "; ".join(["ingestion/export.py", *sources])})
    return rows


DICTIONARY_FIELDS = ["table", "column", "data_type", "description", "description_from"]


def _write_dictionary(folder: Path, entries: list[dict[str, str]], tables: list[ExportedTable], fmt: str) -> None:
    with open(folder / DICTIONARY_CSV, "w", newline="", encoding="utf-8") as handle:
        out = csv.DictWriter(handle, DICTIONARY_FIELDS, lineterminator="\n")
        out.writeheader()
        out.writerows(entries)

    def cell(text: str) -> str:
        return text.replace("|", "\\|") or "—"

    files = {t.name: t for t in tables}
    lines = ["# Data dictionary", "",
             (f"Every table and view of the published warehouse, as {fmt} files in this folder, and "
             f"`{FINGERTIPS_CSV}` (indicator values in the layout of OHID Fingertips' data downloads). "
             f"The same in one table: `{DICTIONARY_CSV}`."), ""]
    for table in dict.fromkeys(e["table"] for e in entries):
        about = next(e for e in entries if e["table"] == table and not e["column"])
        lines += [f"## {table}", "", about["description"] or "(no description)", ""]
        if table in files:
            item = files[table]
            where = (f"`{item.path}`: one folder per indicator ({item.partitions}, `{PARTITION_COLUMN}=…/`)"
                     if item.partitions is not None else f"`{item.path}`")
            lines += [f"{item.rows:,} rows, {where}.", ""]
        else:
            lines += [f"`{FINGERTIPS_CSV}`.", ""]
        lines += ["| column | type | description |", "|---|---|---|"]
        lines += [f"| {cell(e['column'])} | {cell(e['data_type'])} | {cell(e['description'])} |"
                  for e in entries if e["table"] == table and e["column"]]
        lines.append("")
    (folder / DICTIONARY_MD).write_text("\n".join(lines), encoding="utf-8")


# --- replacing the folder -----------------------------------------------------------------------

def _check_target(target: Path) -> None:
    if target.parent == target:
        raise ExportRefused(f"{target} is the root of the file system: give a folder to write")
    if target.exists() and not target.is_dir():
        raise ExportRefused(f"{target} is a file, not a folder")
    if target.is_dir() and not (target / MARKER).is_file() and any(target.iterdir()):
        raise ExportRefused(f"{target} holds files and is not an earlier export: an export replaces its folder whole")


def _remove_abandoned(target: Path) -> None:
    """Folders an export killed before it finished left beside `target` (their process has ended)."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(?:export|replaced)-(\d+)-[0-9a-f]+")
    for leftover in target.parent.iterdir():
        found = pattern.fullmatch(leftover.name)
        if not found:
            continue
        try:
            os.kill(int(found.group(1)), 0)
            continue                      # still running
        except ProcessLookupError:
            shutil.rmtree(leftover, ignore_errors=True)
        except PermissionError:           # another user's, running
            continue


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where there is none."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(b))


def _swap_in(staging: Path, target: Path) -> None:
    """Put the written folder at `target`: a rename when there is none yet, else an exchange with
    the previous export (then removed); where the system cannot exchange, two renames, the
    previous export put back if the second fails."""
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)        # now the previous export
        return
    previous = target.parent / f".{target.name}.replaced-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    os.rename(target, previous)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(previous, target)
        raise
    shutil.rmtree(previous, ignore_errors=True)
