"""DfE suspensions and permanent exclusions (SOURCES.md §2, docs/dfe_data.md), as published on
explore-education-statistics (EES), and the schools register that places schools in LSOAs.

- `dfe_exclusions`: the national / region / local authority / school file(s) of a release. One
  file may mix every `geographic_level` (the 2006/07–2016/17 "by geographic level" file does):
  the level is kept on each row and never summed across.
- `dfe_exclusion_reasons`: the wide by-reason file, one count per reason and exclusion type,
  unpivoted to one row each (reason codes: seed dfe_exclusion_reason).
- `dfe_school_register`: a Get Information about Schools extract (URN, LA and establishment
  number, LSOA), a snapshot.

Columns are found by name across the release layouts (`fixed_excl` → `suspension`,
`school_type` → `education_phase`, legacy SFR35 `year`/`level`), never by position. The
statistics symbols (x, z, c, low, u, legacy : and ~; seed dfe_statistic_symbol) become NULL with
a `<measure>_status` column saying which, never zero. A release restates earlier years, so a
delivery revises history; the same row delivered by two releases counts once (staging keeps the
latest delivery's).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ingestion.codes import seed_rows, sql_list
from ingestion.load import Column, FileRejected, Rule, SourceSpec, delivered_files, read_header

SYMBOLS = tuple(r["symbol"] for r in seed_rows("dfe_statistic_symbol"))
REASONS = tuple(seed_rows("dfe_exclusion_reason"))
GEOGRAPHIC_LEVELS = ("National", "Regional", "Local authority", "School")
EXCLUSION_TYPES = {"perm": "permanent", "susp": "suspension"}
_SYMBOL_LIST = sql_list(SYMBOLS)


def _number(column: str, sql_type: str = "DOUBLE") -> str:
    """A published statistic: the number, or NULL where a symbol stands (never zero). Thousands
    separators are dropped."""
    return (f"CASE WHEN trim({column}) IN ({_SYMBOL_LIST}) THEN NULL "
            f"ELSE CAST(replace(nullif(trim({column}), ''), ',', '') AS {sql_type}) END")


def _status(column: str) -> str:
    """Which symbol stood in place of the number (NULL where a number was published)."""
    return f"CASE WHEN trim({column}) IN ({_SYMBOL_LIST}) THEN trim({column}) END"


def _number_or_symbol(column: str) -> str:
    return (f"(nullif(trim({column}), '') IS NULL OR trim({column}) IN ({_SYMBOL_LIST}) "
            f"OR TRY_CAST(replace(trim({column}), ',', '') AS DOUBLE) IS NOT NULL)")


def _measure_rule(column: str) -> Rule:
    return Rule(f"{column}_number_or_symbol", _number_or_symbol(column),
                f"{column} must be a number or a statistics symbol ({', '.join(SYMBOLS)})")


# time_period 202324 is academic year 2023/24 (September to August); SFR35 files call it `year`
_TIME_PERIOD_OK = Rule(
    "time_period_format",
    "regexp_full_match(trim(time_period), '\\d{6}') AND "
    "(TRY_CAST(substr(trim(time_period), 1, 4) AS INTEGER) + 1) % 100 = TRY_CAST(substr(trim(time_period), 5, 2) AS INTEGER)",
    "time_period must be an academic year written like 202324 (2023/24)")
_LEVEL_OK = Rule("geographic_level_known",
                 f"lower(trim(geographic_level)) IN ({sql_list([g.lower() for g in GEOGRAPHIC_LEVELS])})",
                 f"geographic_level must be one of {', '.join(GEOGRAPHIC_LEVELS)}")
# local authorities abolished before GSS codes (Bedfordshire, "Pre LGR 2009") have only the old
# three-digit number, and new_la_code blank or "."
_NEW_LA_CODE = "nullif(nullif(trim(new_la_code), ''), '.')"
_LA_CODE_OK = Rule(
    "la_code_for_la_rows",
    "lower(trim(geographic_level)) NOT IN ('local authority', 'school') "
    f"OR regexp_full_match({_NEW_LA_CODE}, '(?:E0[6-9]|E10)\\d{{6}}') "
    f"OR ({_NEW_LA_CODE} IS NULL AND regexp_full_match(trim(old_la_code), '\\d{{3}}'))",
    "local authority and school rows must carry new_la_code, an English county or unitary authority code (E06–E10), "
    "or for an authority abolished before those codes its three-digit old_la_code")
_ACADEMIC_YEAR = "make_date(CAST(substr(trim(time_period), 1, 4) AS INTEGER), 9, 1)"
_LEVEL = ("CASE lower(trim(geographic_level)) "
          + " ".join(f"WHEN '{g.lower()}' THEN '{g}'" for g in GEOGRAPHIC_LEVELS) + " END")
# phase names changed case between releases ("state-funded primary" / "State-funded primary")
_PHASE = "lower(trim(phase))"

# the columns every release file shares, by name across layouts
_AREA_COLUMNS = (
    Column(r"(?i)time_period|year", "time_period", pattern=r"\d{6}", not_null=True,
           description="the academic year as published: 202324 is 2023/24"),
    Column(None, "academic_year_start", "DATE", not_null=True,
           description="first day (1 September) of the academic year the row is for"),
    Column(r"(?i)time_identifier", "time_identifier", required=False,
           description="'Academic year', or a term in the termly school-level files"),
    Column(r"(?i)geographic_level|level", "geographic_level", not_null=True, values=GEOGRAPHIC_LEVELS),
    Column(r"(?i)country_code", "country_code", required=False, area_level="country"),
    Column(r"(?i)region_code", "region_code", required=False),
    Column(r"(?i)old_la_code", "old_la_code", required=False),
    Column(r"(?i)new_la_code", "new_la_code", required=False, area_level="utla"),
    Column(r"(?i)la_name", "la_name", required=False),
    Column(r"(?i)education_phase|school_type", "phase", not_null=True,
           description="education phase (school type in older releases), lower case: 'total' is every phase"),
)


def _area_select() -> str:
    return (f"trim(time_period) AS time_period, {_ACADEMIC_YEAR} AS academic_year_start, "
            "coalesce(nullif(trim(time_identifier), ''), 'Academic year') AS time_identifier, "
            f" {_LEVEL} AS geographic_level, nullif(trim(country_code), '') AS country_code, "
            "nullif(trim(region_code), '') AS region_code, nullif(trim(old_la_code), '') AS old_la_code, "
            f"{_NEW_LA_CODE} AS new_la_code, nullif(trim(la_name), '') AS la_name, "
            f"{_PHASE} AS phase")


# measure → (header across layouts, SQL type, required); each with a `_status` column beside it.
# Counts are DOUBLE: older releases share a dual-registered pupil's exclusion between schools
# (Brent's 2009/10 permanent exclusions are 45.9412), and an integer cast would round it away
_MEASURES = {
    "num_schools": (r"(?i)num_schools", "BIGINT", False),
    "headcount": (r"(?i)headcount", "DOUBLE", True),
    "perm_excl": (r"(?i)perm_excl", "DOUBLE", True),
    "suspension": (r"(?i)suspension|fixed_excl", "DOUBLE", True),
    "one_plus_susp": (r"(?i)one_plus_susp|one_plus_fixed", "DOUBLE", False),
}

DFE_EXCLUSIONS = SourceSpec(
    name="dfe_exclusions",
    raw_table="raw.dfe_exclusions",
    description="DfE suspensions and permanent exclusions by geographic level (national, region, local authority, "
                "school) and academic year, with pupil headcount",
    gx_suite="raw_dfe_exclusions",
    file_pattern=r"[^.]+\.csv",           # routed by header (dfe_discover): EES names vary by release
    refresh="revises_history", area_level="utla", period_type="academic_year",
    landing="dfe",
    columns=(
        *_AREA_COLUMNS,
        Column(r"(?i)school_urn|urn", "school_urn", required=False),
        Column(r"(?i)school_laestab|laestab", "school_laestab", required=False),
        Column(r"(?i)school_name", "school_name", required=False),
        *[c for measure, (header, sql_type, required) in _MEASURES.items() for c in (
            Column(header, measure, sql_type, required=required, between=(0, None)),
            Column(None, f"{measure}_status", values=SYMBOLS,
                   description=f"the statistics symbol published instead of {measure} (NULL: a number was)"))],
    ),
    rules=(_TIME_PERIOD_OK, _LEVEL_OK, _LA_CODE_OK, *[_measure_rule(m) for m in _MEASURES]),
    unique_key=("time_identifier", "time_period", "geographic_level", "region_code", "new_la_code",
                "school_laestab", "school_urn", "phase"),
    select_sql=lambda spec, attrs, staged: f"""
        SELECT {_area_select()},
               nullif(trim(school_urn), '') AS school_urn, nullif(trim(school_laestab), '') AS school_laestab,
               nullif(trim(school_name), '') AS school_name,
               {', '.join(f"{_number(m, t)} AS {m}, {_status(m)} AS {m}_status" for m, (_, t, _r) in _MEASURES.items())},
               _row_number, _file_index
        FROM _staged""",
)


def _reason_columns() -> tuple[Column, ...]:
    columns = []
    for reason in REASONS:
        code, header = reason["reason_code"], reason["header_pattern"]
        required = code in ("physical_pupil", "physical_adult")
        columns.append(Column(rf"(?i)perm_{header}", f"perm_{code}", required=required, stored=False))
        columns.append(Column(rf"(?i)(?:fixed|susp|suspension)_{header}", f"susp_{code}", required=required,
                              stored=False))
    return tuple(columns)


def _reason_select(spec: SourceSpec, attrs: dict[str, str], staged: list[str]) -> str:
    """One row per reason and exclusion type of each delivered row (a reason the release did not
    collect that year has no column, or an empty cell, and gives no row)."""
    parts = []
    for reason in REASONS:
        for prefix, kind in EXCLUSION_TYPES.items():
            column = f"{prefix}_{reason['reason_code']}"
            parts.append(f"""
        SELECT {_area_select()}, '{kind}' AS exclusion_type, '{reason['reason_code']}' AS reason_code,
               {_number(column)} AS exclusions, {_status(column)} AS exclusions_status, _row_number, _file_index
        FROM _staged WHERE nullif(trim({column}), '') IS NOT NULL""")
    return " UNION ALL ".join(parts)


DFE_EXCLUSION_REASONS = SourceSpec(
    name="dfe_exclusion_reasons",
    raw_table="raw.dfe_exclusion_reasons",
    description="DfE suspensions and permanent exclusions by reason, geographic level and academic year "
                "(counts may be fractional: a legacy release split exclusions given several reasons)",
    gx_suite="raw_dfe_exclusion_reasons",
    file_pattern=r"[^.]+\.csv",
    refresh="revises_history", area_level="utla", period_type="academic_year",
    landing="dfe",
    columns=(
        *_AREA_COLUMNS,
        Column(None, "exclusion_type", not_null=True, values=tuple(EXCLUSION_TYPES.values())),
        Column(None, "reason_code", not_null=True, values=tuple(r["reason_code"] for r in REASONS)),
        Column(None, "exclusions", "DOUBLE", between=(0, None)),
        Column(None, "exclusions_status", values=SYMBOLS),
        *_reason_columns(),
    ),
    rules=(_TIME_PERIOD_OK, _LEVEL_OK, _LA_CODE_OK,
           *[_measure_rule(c.name) for c in _reason_columns()]),
    unique_key=("time_identifier", "time_period", "geographic_level", "region_code", "new_la_code", "phase"),
    unpivoted_by=("exclusion_type", "reason_code"),
    select_sql=_reason_select,
)

DFE_SCHOOL_REGISTER = SourceSpec(
    name="dfe_school_register",
    raw_table="raw.dfe_school_register",
    description="schools register (Get Information about Schools extract): each school's URN, LA and "
                "establishment number and LSOA, to place school-level rows in areas",
    file_pattern=r"(?i)(?:edubase|gias|school[_-]?register)[^.]*\.csv",
    replace_scope="table",
    landing="dfe",
    columns=(
        Column(r"(?i)urn", "school_urn", not_null=True),
        Column(r"(?i)la \(code\)|la_code", "la_number", required=False),
        Column(r"(?i)establishmentnumber|establishment_number", "establishment_number", required=False),
        Column(r"(?i)establishmentname|establishment_name|school_name", "school_name", required=False),
        Column(r"(?i)lsoa \(code\)|lsoa_code|lsoa21cd|lsoa11cd", "lsoa_code", required=False, area_level="lsoa"),
        Column(r"(?i)opendate|open_date", "open_date", "DATE", required=False),
        Column(r"(?i)closedate|close_date", "close_date", "DATE", required=False),
    ),
    rules=(Rule("urn_format", "regexp_full_match(trim(school_urn), '\\d{5,7}')", "URN must be a 5–7 digit number"),
           Rule("date_format",
                "(nullif(trim(open_date), '') IS NULL OR TRY_STRPTIME(trim(open_date), ['%d-%m-%Y', '%Y-%m-%d', "
                "'%d/%m/%Y']) IS NOT NULL) AND (nullif(trim(close_date), '') IS NULL OR "
                "TRY_STRPTIME(trim(close_date), ['%d-%m-%Y', '%Y-%m-%d', '%d/%m/%Y']) IS NOT NULL)",
                "OpenDate and CloseDate must be dates (DD-MM-YYYY as GIAS writes them, or YYYY-MM-DD)")),
    unique_key=("school_urn",),
    select_sql=lambda spec, attrs, staged: """
        SELECT trim(school_urn) AS school_urn, nullif(trim(la_number), '') AS la_number,
               nullif(trim(establishment_number), '') AS establishment_number,
               nullif(trim(school_name), '') AS school_name, nullif(upper(trim(lsoa_code)), '') AS lsoa_code,
               CAST(TRY_STRPTIME(nullif(trim(open_date), ''), ['%d-%m-%Y', '%Y-%m-%d', '%d/%m/%Y']) AS DATE) AS open_date,
               CAST(TRY_STRPTIME(nullif(trim(close_date), ''), ['%d-%m-%Y', '%Y-%m-%d', '%d/%m/%Y']) AS DATE)
                   AS close_date,
               _row_number, _file_index
        FROM _staged""",
)


def kind_of(header: list[str]) -> str | None:
    """Which DfE source a file is, by its header: the by-reason file has per-reason columns, the
    schools register a URN and an LSOA, the exclusions file headcount and a geographic level
    (files by pupil characteristic, the national summary and .meta.csv files are none of them)."""
    names = [h.lower() for h in header]
    if any(re.fullmatch(r"perm_physical_pupils?", n) for n in names):
        return "dfe_exclusion_reasons"
    if "urn" in names and any(n.startswith("lsoa") for n in names) and "headcount" not in names:
        return "dfe_school_register"
    if "headcount" in names and any(n in ("geographic_level", "level") for n in names) \
            and not any(n.startswith("characteristic") for n in names):
        return "dfe_exclusions"
    return None


def dfe_discover(name: str, path: Path, month: str | None) -> tuple[list[tuple[SourceSpec, Path]], list[FileRejected]]:
    """The files at `path` that are this DfE source's, told apart by their header: a release's
    files keep their EES names, which differ between releases."""
    spec = SOURCE_BY_NAME[name]
    pairs, refused = [], []
    for file in delivered_files(spec, path):
        try:
            kind = kind_of(read_header(file))
        except FileRejected as rejection:
            if name == "dfe_exclusions":      # an unreadable file is reported once, not by each source
                refused.append(rejection)
            continue
        if kind == name:
            pairs.append((spec, file))
    return pairs, refused


def _routed(spec: SourceSpec) -> SourceSpec:
    return dataclasses.replace(spec, discover=lambda path, month: dfe_discover(spec.name, path, month))


SOURCES = DFE_EXCLUSIONS, DFE_EXCLUSION_REASONS, DFE_SCHOOL_REGISTER = tuple(
    _routed(s) for s in (DFE_EXCLUSIONS, DFE_EXCLUSION_REASONS, DFE_SCHOOL_REGISTER))
SOURCE_BY_NAME = {s.name: s for s in SOURCES}
