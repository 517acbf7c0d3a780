"""Force recorded-crime extracts: the project's CSV schema, and the column-mapping files that map
a force's own export onto it without code changes (docs/force_crime_extract.md).

police.uk has no knife flag and no victim age, so the Home Office measure of knife-enabled serious
violence needs each force's own records. Forces export them from different systems with their own
headers, date formats and flag values; a small TOML mapping per force says which of its columns
is which project column and how its values read. The loader then builds an ordinary `SourceSpec`
from the mapping, so these files get the same header check, rules, quarantine, manifest and
replace-not-double behaviour as every other source.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingestion.codes import AREA_LEVELS, ENGLAND_WALES_FORCES, sql_list
from ingestion.errors import VruError
from ingestion.load import Column, FileRejected, LoadResult, ReportingUnit, Rule, SourceSpec, load_file, match_names

SOURCE_NAME = "force_recorded_crime"
RAW_TABLE = "raw.force_recorded_crime"
MAPPINGS_DIR = Path(__file__).resolve().parent / "force_crime_mappings"
_OFFENCE_CODE_PATTERN = "[0-9]{1,3}(?:[A-Z]{1,2}|/[0-9]{1,2})?"
# a mapping's file_pattern is matched by RE2 (load.match_names: linear time, so no pattern can hang
# the loader); it must be valid both there and in Python (which reads its group names)
MAX_PATTERN_CHARS = 500

# The project schema: column → (required in every mapping, what it holds)
PROJECT_COLUMNS: dict[str, tuple[bool, str]] = {
    "crime_reference": (True, "the force's crime reference, pseudonymised before export; unique in a file"),
    "recorded_date": (True, "date the crime was recorded (the Home Office counts crimes by this date)"),
    "offence_code": (True, "Home Office offence classification code, e.g. 8N, 34B, 5D, 4/1"),
    "offence_description": (True, "Home Office offence description"),
    "knife_or_sharp_instrument": (True, "the force's flag for a knife or sharp instrument used or threatened"),
    "victim_age": (True, "age of the (first) victim at the offence in whole years; blank when unknown"),
    "lsoa_code": (True, "LSOA of the offence location, 2011 or 2021 codes; blank when not geocoded"),
}



class MappingInvalid(VruError):
    """A column-mapping file cannot be used; the message names the file and the key."""

    hint = "fix the mapping file; nothing was loaded"

    def __init__(self, path: Path, key: str, detail: str):
        super().__init__(f"{Path(path).name}: mapping key '{key}': {detail}")


@dataclass(frozen=True)
class ForceMapping:
    """How one force's export reads as the project schema (one TOML file per force)."""

    path: Path
    file_pattern: str
    columns: dict[str, str]                     # project column → the force's header
    force: str | None = None                   # police.uk force id; or a (?P<force>) group in file_pattern
    date_format: str = "%Y-%m-%d"
    knife_true: tuple[str, ...] = ("Y",)
    knife_false: tuple[str, ...] = ("N",)
    victim_age_unknown: tuple[str, ...] = ("",)

    @property
    def folder(self) -> Path:
        return self.path.parent


def _strings(path: Path, key: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MappingInvalid(path, key, "must be a list of strings")
    return tuple(v.strip() for v in value)


def read_mapping(path: Path | str) -> ForceMapping:
    """Read and check a mapping file; every mistake names the key, before any data is read."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise MappingInvalid(path, "(file)", f"not valid TOML: {error}") from None
    unknown = set(data) - {"force", "file_pattern", "date_format", "columns", "values"}
    if unknown:
        raise MappingInvalid(path, sorted(unknown)[0], "is not a mapping key (force, file_pattern, date_format, columns, values)")
    pattern = data.get("file_pattern")
    if not isinstance(pattern, str):
        raise MappingInvalid(path, "file_pattern", "a regular expression for the export's file names is required")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise MappingInvalid(path, "file_pattern", f"longer than {MAX_PATTERN_CHARS} characters")
    try:
        groups = re.compile(pattern).groupindex
    except (re.error, RecursionError, OverflowError) as error:
        raise MappingInvalid(path, "file_pattern", f"not a valid regular expression: {error}") from None
    try:
        match_names(pattern, [""])
    except duckdb.Error as error:
        reason = str(error).splitlines()[0].removeprefix("Invalid Input Error: ")
        raise MappingInvalid(path, "file_pattern", f"not a pattern RE2 accepts ({reason}): file names are matched in "
                                                   "linear time, without look-arounds or back-references") from None
    force = data.get("force")
    if force is not None and not (isinstance(force, str) and re.fullmatch(r"[a-z-]+", force)):
        raise MappingInvalid(path, "force", "must be a police.uk force id such as 'thames-valley'")
    if force is None and "force" not in groups:
        raise MappingInvalid(path, "force", "give the force id, or a (?P<force>...) group in file_pattern")
    columns = data.get("columns")
    if not isinstance(columns, dict):
        raise MappingInvalid(path, "columns", "a [columns] table mapping project columns to the export's headers is required")
    for name, header in columns.items():
        if name not in PROJECT_COLUMNS:
            raise MappingInvalid(path, f"columns.{name}", f"not a project column ({', '.join(PROJECT_COLUMNS)})")
        if not isinstance(header, str) or not header.strip():
            raise MappingInvalid(path, f"columns.{name}", "must be the export's column header")
    for name, (required, _) in PROJECT_COLUMNS.items():
        if required and name not in columns:
            raise MappingInvalid(path, f"columns.{name}", "missing: every project column needs a header")
    date_format = data.get("date_format", "%Y-%m-%d")
    if not isinstance(date_format, str) or not all(d in date_format for d in ("%d", "%m")) or "%Y" not in date_format:
        raise MappingInvalid(path, "date_format", "a strptime format with %d, %m and %Y, e.g. '%d/%m/%Y'")
    values = data.get("values", {})
    unknown = set(values) - {"knife_true", "knife_false", "victim_age_unknown"}
    if unknown:
        raise MappingInvalid(path, f"values.{sorted(unknown)[0]}", "not one of knife_true, knife_false, victim_age_unknown")
    knife_true = _strings(path, "values.knife_true", values.get("knife_true", ["Y"]))
    knife_false = _strings(path, "values.knife_false", values.get("knife_false", ["N"]))
    both = {v.upper() for v in knife_true} & {v.upper() for v in knife_false}
    if both:
        raise MappingInvalid(path, "values.knife_true", f"{sorted(both)} also in knife_false")
    return ForceMapping(
        path=path, file_pattern=pattern, columns={k: v.strip() for k, v in columns.items()}, force=force,
        date_format=date_format, knife_true=knife_true, knife_false=knife_false,
        victim_age_unknown=_strings(path, "values.victim_age_unknown", values.get("victim_age_unknown", [""])),
    )


def _sql_list(values: tuple[str, ...]) -> str:
    """Upper-cased SQL literals: flag and age values compare case-insensitively."""
    return ", ".join("'" + v.upper().replace("'", "''") + "'" for v in values)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Normalised code: upper case, no spaces, leading zeros dropped (forces export 008N or 8N)
_OFFENCE_CODE = r"regexp_replace(replace(upper(trim(offence_code)), ' ', ''), '^0+([0-9])', '\1')"


def spec_for(mapping: ForceMapping) -> SourceSpec:
    """The loader's source declaration for one force's export, built from its mapping."""
    date = f"try_strptime(trim(recorded_date), {_sql_str(mapping.date_format)})"
    knife = "upper(trim(coalesce(knife_or_sharp_instrument, '')))"
    age = "upper(trim(coalesce(victim_age, '')))"
    rules = [
        Rule("crime_reference_present", "nullif(trim(crime_reference), '') IS NOT NULL",
             "every record has its (pseudonymised) crime reference"),
        Rule("recorded_date_format", f"{date} IS NOT NULL",
             f"recorded date must read as {mapping.date_format!r} (the mapping's date_format)"),
        Rule("knife_flag_known", f"{knife} IN ({_sql_list(mapping.knife_true + mapping.knife_false)})",
             f"knife flag must be one of the mapping's values {list(mapping.knife_true + mapping.knife_false)}"),
        Rule("victim_age_valid",
             f"{age} IN ({_sql_list(mapping.victim_age_unknown)}) OR TRY_CAST({age} AS INTEGER) BETWEEN 0 AND 120",
             f"victim age must be whole years 0–120 or one of the mapping's unknown values {list(mapping.victim_age_unknown)}"),
        Rule("offence_code_format", f"regexp_full_match({_OFFENCE_CODE}, '{_OFFENCE_CODE_PATTERN}')",
             "offence code must be a Home Office classification such as 8N, 34B or 4/1", action="quarantine_row"),
        Rule("lsoa_code_format", AREA_LEVELS["lsoa"].code_rule_sql("lsoa_code", allow_blank=True),
             "LSOA code must look like E01xxxxxx or W01xxxxxx (or be blank)", action="quarantine_row"),
    ]
    if "month" in re.compile(mapping.file_pattern).groupindex:
        rules.append(Rule("recorded_date_in_file_month", f"strftime({date}, '%Y-%m') = {{month}}",
                          "recorded date must fall in the month in the file name"))
    # the mapping's force, else the one in each file's name ({force} is bound per file)
    has_force = "force" in re.compile(mapping.file_pattern).groupindex
    force = _sql_str(mapping.force) if mapping.force else ("{force}" if has_force else "''")
    rules.insert(0, Rule("force_in_england_wales", f"({force}) IN ({sql_list(ENGLAND_WALES_FORCES)})",
                         "the force (the mapping's, or the file name's) must be a police.uk force id of England "
                         "and Wales (seed police_force)"))

    def select(spec, attrs, staged):
        return f"""
        SELECT {force} AS force, trim(crime_reference) AS crime_reference,
               CAST({date} AS DATE) AS recorded_date,
               {_OFFENCE_CODE} AS offence_code, nullif(trim(offence_description), '') AS offence_description,
               {knife} IN ({_sql_list(mapping.knife_true)}) AS is_knife_or_sharp_instrument,
               CASE WHEN {age} IN ({_sql_list(mapping.victim_age_unknown)}) THEN NULL
                    ELSE TRY_CAST({age} AS INTEGER) END AS victim_age,
               nullif(trim(lsoa_code), '') AS lsoa_code, _row_number, _file_index
        FROM _staged"""

    headers = {name: re.escape(header) for name, header in mapping.columns.items()}
    return SourceSpec(
        name=SOURCE_NAME,
        raw_table=RAW_TABLE,
        description="forces' own recorded-crime exports in the project schema (knife flag, victim age), "
                    "each read through the column-mapping TOML beside it",
        gx_suite="raw_force_recorded_crime",
        extra_expectations=(_knife_share_expectation,),
        # a force may restate any earlier month in a later extract: rebuilt in full when one comes
        refresh="revises_history", area_level="lsoa", period_type="month",
        period_sql="date_trunc('month', recorded_date)", reporting_unit=ReportingUnit("police_force", "force"),
        file_pattern=mapping.file_pattern,
        columns=(
            Column(None, "force", not_null=True, description="police.uk force id: the mapping's, or the file name's"),
            Column(headers["crime_reference"], "crime_reference", not_null=True),
            Column(headers["recorded_date"], "recorded_date", "DATE", not_null=True),
            Column(headers["offence_code"], "offence_code", pattern=_OFFENCE_CODE_PATTERN),
            Column(headers["offence_description"], "offence_description"),
            Column(headers["knife_or_sharp_instrument"], "knife_or_sharp_instrument", stored=False),
            Column(None, "is_knife_or_sharp_instrument", "BOOLEAN", not_null=True),
            Column(headers["victim_age"], "victim_age", "INTEGER", between=(0, 120)),
            Column(headers["lsoa_code"], "lsoa_code", area_level="lsoa"),
        ),
        rules=tuple(rules),
        unique_key=("crime_reference",),
        select_sql=select,
    )


def _knife_share_expectation():
    # A force flags knives in a few percent of its crimes; a file where most are flagged means
    # the mapping reads the flag the wrong way round.
    import great_expectations.expectations as gxe

    # "at least half not flagged", said as a share of values in a set: GX's mean of a BOOLEAN is
    # SQL DuckDB refuses (1.0 * boolean)
    return gxe.ExpectColumnValuesToBeInSet(
        column="is_knife_or_sharp_instrument", value_set=[False], mostly=0.5,
        meta={"why": "knife-flagged crimes are a small minority: else the mapping's knife values are inverted"})


# Files already in the project schema need no mapping of their own: <force>-recorded-crime-YYYY-MM.csv
PROJECT_SCHEMA_MAPPING = MAPPINGS_DIR / "project_schema.toml"


def mappings_under(folder: Path) -> list[ForceMapping]:
    """Every mapping file (*.toml) under a delivery folder; each applies to the files beside it
    and below it."""
    return [read_mapping(p) for p in sorted(Path(folder).rglob("*.toml"))]


def extract_files(folder: Path, month: str | None = None) -> tuple[list[tuple[Path, ForceMapping]], list[FileRejected]]:
    """Pair every CSV under `folder` with the mapping that matches its name: the nearest mapping
    file in its folder or above, else the project schema. A CSV no mapping matches is returned as
    a refusal (never skipped in silence)."""
    folder = Path(folder)
    mappings = sorted(mappings_under(folder), key=lambda m: -len(m.folder.parts)) + [read_mapping(PROJECT_SCHEMA_MAPPING)]
    paired, refused = [], []
    files = sorted(folder.rglob("*.csv")) if folder.is_dir() else [folder]
    # each mapping's pattern over every file name at once, by RE2 (linear time: see match_names)
    matches = {m.path: match_names(m.file_pattern, [f.name for f in files]) for m in mappings}
    for i, csv_path in enumerate(files):
        candidates = [m for m in mappings if m.path == PROJECT_SCHEMA_MAPPING or csv_path.is_relative_to(m.folder)]
        mapping = next((m for m in candidates if matches[m.path][i] is not None), None)
        if mapping is None:
            refused.append(FileRejected(csv_path, "column_mapping",
                                        "no mapping file matches this file name: put the force's mapping TOML "
                                        "beside it (docs/force_crime_extract.md)"))
            continue
        if month and matches[mapping.path][i].get("month") not in (None, month):
            continue
        paired.append((csv_path, mapping))
    return paired, refused


def load_extract_file(con: duckdb.DuckDBPyConnection, path: Path | str, mapping: ForceMapping) -> LoadResult:
    return load_file(con, spec_for(mapping), path)


def _discover(folder: Path, month: str | None) -> tuple[list[tuple[SourceSpec, Path]], list[FileRejected]]:
    paired, refused = extract_files(folder, month)
    specs: dict[Path, SourceSpec] = {}    # one layout per mapping file, so its files load as a batch
    return [(specs.setdefault(mapping.path, spec_for(mapping)), path) for path, mapping in paired], refused


# the source's declaration: the project schema (a force's own export maps onto it, file by file)
FORCE_RECORDED_CRIME = dataclasses.replace(spec_for(read_mapping(PROJECT_SCHEMA_MAPPING)), discover=_discover,
                                           command="force-crime", landing="force_crime")

SOURCES = (FORCE_RECORDED_CRIME,)
