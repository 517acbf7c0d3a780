"""data.police.uk archives (SOURCES.md §1): street-level crime, outcomes and stop-and-search
files, one file per force-month (`YYYY-MM-<force>-street.csv` and its siblings).

One file is one delivery: a re-delivered month replaces that force-month, never doubles it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb

from ingestion.codes import AREA_LEVELS, CRIME_TYPES, sql_list
from ingestion.load import Column, LoadResult, Rule, SourceSpec, delivered_files, load_file

_MONTH_RULES = (
    Rule("month_format", r"regexp_full_match(month, '\d{4}-(0[1-9]|1[0-2])')", "Month must be YYYY-MM"),
    Rule("month_matches_file_name", "month = {month}", "Month must equal the month in the file name"),
)
_COORDINATES_NUMERIC = Rule(
    "coordinates_numeric",
    "(longitude IS NULL OR TRY_CAST(longitude AS DOUBLE) IS NOT NULL) AND "
    "(latitude IS NULL OR TRY_CAST(latitude AS DOUBLE) IS NOT NULL)",
    "Longitude and Latitude must be numbers or blank")
_LSOA_CODE_FORMAT = Rule("lsoa_code_format", AREA_LEVELS["lsoa"].code_rule_sql("lsoa_code", allow_blank=True),
                         "LSOA code must look like E01xxxxxx or W01xxxxxx (or be blank)", action="quarantine_row")
# map points lie in Great Britain
_GB_LONGITUDE, _GB_LATITUDE = (-8.7, 2.0), (49.8, 60.9)

POLICE_STREET = SourceSpec(
    name="police_street",
    raw_table="raw.police_street",
    description="data.police.uk street-level crime and anti-social behaviour, one file per force-month",
    gx_suite="raw_police_street",
    duplicate_id_column="crime_id",
    file_pattern=r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z-]+)-street\.csv",
    refresh="by_period", area_level="lsoa", period_type="month", period_sql="month",
    landing="police", delivered_with=("police_outcomes", "police_stop_search"),
    columns=(
        Column("Crime ID", "crime_id"),
        Column("Month", "month", "DATE", not_null=True),
        Column("Reported by", "reported_by"),
        Column("Falls within", "falls_within"),
        Column("Longitude", "longitude", "DOUBLE", between=_GB_LONGITUDE),
        Column("Latitude", "latitude", "DOUBLE", between=_GB_LATITUDE),
        Column("Location", "location"),
        Column("LSOA code", "lsoa_code", area_level="lsoa"),
        Column("LSOA name", "lsoa_name"),
        Column("Crime type", "crime_type", values=CRIME_TYPES),
        Column("Last outcome category", "last_outcome_category"),
        Column("Context", "context", required=False),
    ),
    rules=(
        *_MONTH_RULES,
        _COORDINATES_NUMERIC,
        Rule("crime_type_present", "crime_type IS NOT NULL", "Crime type must not be blank"),
        Rule("crime_type_known", f"crime_type IN ({sql_list(CRIME_TYPES)})",
             "Crime type must be one of the police.uk categories", action="quarantine_row"),
        _LSOA_CODE_FORMAT,
    ),
    select_sql=lambda spec, attrs, staged: """
        SELECT NULLIF(TRIM(crime_id), '') AS crime_id,
               CAST(month || '-01' AS DATE) AS month,
               reported_by, falls_within,
               TRY_CAST(longitude AS DOUBLE) AS longitude,
               TRY_CAST(latitude AS DOUBLE) AS latitude,
               location, NULLIF(TRIM(lsoa_code), '') AS lsoa_code, lsoa_name,
               crime_type, last_outcome_category,
               context, _row_number, _file_index
        FROM _staged""",
)


def street_files(folder: Path, month: str | None = None) -> list[Path]:
    """Every street file under a folder in the police.uk archive layout (YYYY-MM/ sub-folders,
    many forces at once), or the file itself; only those of `month` ("YYYY-MM") when given. A
    .zip archive as downloaded from police.uk is unpacked beside itself first."""
    folder = Path(folder)
    if folder.is_file() and folder.suffix.lower() == ".zip":
        folder = unpack_archive(folder)
    if folder.is_file():
        files = [folder]
    else:
        files = sorted(p for p in folder.rglob("*-street.csv") if p.is_file())
    if month:
        files = [p for p in files if p.name.startswith(f"{month}-")]
    return files


def unpack_archive(archive: Path) -> Path:
    """Extract the street, outcomes and stop-and-search files of a police.uk archive to
    `<archive stem>/` next to it; returns that folder."""
    import zipfile

    target = archive.with_suffix("")
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.namelist():
            if member.endswith(("-street.csv", "-outcomes.csv", "-stop-and-search.csv")) and ".." not in Path(member).parts:
                zipped.extract(member, target)
    return target


def load_street_file(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, POLICE_STREET, path)


POLICE_OUTCOMES = SourceSpec(
    name="police_outcomes",
    raw_table="raw.police_outcome",
    description="data.police.uk outcomes: each outcome recorded for a crime, joined to crimes by Crime ID",
    file_pattern=r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z-]+)-outcomes\.csv",
    # an outcome belongs to a crime of any earlier month: what is counted from outcomes is rebuilt in full
    refresh="revises_history", area_level="lsoa", period_type="month",
    columns=(
        Column("Crime ID", "crime_id"), Column("Month", "month", "DATE"),
        Column("Reported by", "reported_by"), Column("Falls within", "falls_within"),
        Column("Longitude", "longitude", "DOUBLE"), Column("Latitude", "latitude", "DOUBLE"),
        Column("Location", "location"), Column("LSOA code", "lsoa_code"), Column("LSOA name", "lsoa_name"),
        Column("Outcome type", "outcome_type"),
    ),
    rules=(
        *_MONTH_RULES,
        Rule("crime_id_present", "crime_id IS NOT NULL", "every outcome names the Crime ID it belongs to",
             action="quarantine_row"),
        Rule("outcome_type_present", "outcome_type IS NOT NULL", "Outcome type must not be blank"),
    ),
    select_sql=lambda spec, attrs, staged: """
        SELECT crime_id, CAST(month || '-01' AS DATE) AS month, reported_by, falls_within,
               TRY_CAST(longitude AS DOUBLE) AS longitude, TRY_CAST(latitude AS DOUBLE) AS latitude,
               location, NULLIF(TRIM(lsoa_code), '') AS lsoa_code, lsoa_name, outcome_type, _row_number, _file_index
        FROM _staged""",
)


def outcome_files(folder: Path, month: str | None = None) -> list[Path]:
    """Every `*-outcomes.csv` under a folder in the archive layout (or the file itself)."""
    return delivered_files(POLICE_OUTCOMES, folder, month)


def load_outcomes_file(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, POLICE_OUTCOMES, path)


STOP_SEARCH_TYPES = ("Person search", "Vehicle search", "Person and Vehicle search")

POLICE_STOP_SEARCH = SourceSpec(
    name="police_stop_search",
    raw_table="raw.police_stop_search",
    description="data.police.uk stop and search records, one file per force-month",
    file_pattern=r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z-]+)-stop-and-search\.csv",
    refresh="by_period", area_level="pfa", period_type="month",
    period_sql="date_trunc('month', searched_at)",
    columns=(
        Column(None, "force", description="police.uk force id, from the file name"),
        Column("Type", "search_type"), Column("Date", "searched_at", "TIMESTAMP"),
        Column("Part of a policing operation", "part_of_policing_operation", "BOOLEAN"),
        Column("Policing operation", "policing_operation"),
        Column("Latitude", "latitude", "DOUBLE"), Column("Longitude", "longitude", "DOUBLE"),
        Column("Gender", "gender"), Column("Age range", "age_range"),
        Column("Self-defined ethnicity", "self_defined_ethnicity"),
        Column("Officer-defined ethnicity", "officer_defined_ethnicity"),
        Column("Legislation", "legislation"), Column("Object of search", "object_of_search"),
        Column("Outcome", "outcome"),
        Column("Outcome linked to object of search", "outcome_linked_to_object", "BOOLEAN"),
        Column("Removal of more than just outer clothing", "removal_of_more_than_outer_clothing", "BOOLEAN"),
    ),
    rules=(
        Rule("date_is_a_timestamp", "TRY_CAST(searched_at AS TIMESTAMPTZ) IS NOT NULL",
             "Date must be an ISO timestamp such as 2016-11-01T00:10:00+00:00"),
        Rule("date_in_file_month", "strftime(TRY_CAST(searched_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m') = {month}",
             "Date must fall in the month in the file name"),
        _COORDINATES_NUMERIC,
        Rule("search_type_known", f"search_type IN ({sql_list(STOP_SEARCH_TYPES)})",
             "Type must be Person search, Vehicle search or Person and Vehicle search", action="quarantine_row"),
    ),
    # times are kept in UTC; the force comes from the file name (the file has no force column)
    select_sql=lambda spec, attrs, staged: """
        SELECT {force} AS force, search_type,
               (CAST(searched_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC') AS searched_at,
               TRY_CAST(part_of_policing_operation AS BOOLEAN) AS part_of_policing_operation,
               policing_operation, TRY_CAST(latitude AS DOUBLE) AS latitude, TRY_CAST(longitude AS DOUBLE) AS longitude,
               gender, age_range, self_defined_ethnicity, officer_defined_ethnicity, legislation,
               object_of_search, outcome, TRY_CAST(outcome_linked_to_object AS BOOLEAN) AS outcome_linked_to_object,
               TRY_CAST(removal_of_more_than_outer_clothing AS BOOLEAN) AS removal_of_more_than_outer_clothing,
               _row_number, _file_index
        FROM _staged""",
)


def stop_search_files(folder: Path, month: str | None = None) -> list[Path]:
    return delivered_files(POLICE_STOP_SEARCH, folder, month)


def load_stop_search_file(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, POLICE_STOP_SEARCH, path)


def _discover_street(path: Path, month: str | None) -> tuple[list[tuple[SourceSpec, Path]], list]:
    return [(POLICE_STREET, f) for f in street_files(path, month)], []


# street files come as archives too (a .zip is unpacked beside itself)
POLICE_STREET = dataclasses.replace(POLICE_STREET, discover=_discover_street)

SOURCES = (POLICE_STREET, POLICE_OUTCOMES, POLICE_STOP_SEARCH)
