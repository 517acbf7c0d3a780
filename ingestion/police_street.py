"""data.police.uk street-level crime files (`YYYY-MM-<force>-street.csv`), see SOURCES.md §1.

One file is one delivery: a re-delivered month replaces that force-month, never doubles it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.load import Column, LoadResult, Rule, SourceSpec, load_file

CRIME_TYPES = (
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery",
    "Shoplifting", "Theft from the person", "Vehicle crime", "Violence and sexual offences",
    # legacy categories in files before 2013
    "Violent crime", "Public disorder and weapons",
)
_crime_type_list = ", ".join("'" + c.replace("'", "''") + "'" for c in CRIME_TYPES)

POLICE_STREET = SourceSpec(
    name="police_street",
    raw_table="raw.police_street",
    description="data.police.uk street-level crime and anti-social behaviour, one file per force-month",
    gx_suite="raw_police_street",
    duplicate_id_column="crime_id",
    file_pattern=r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z-]+)-street\.csv",
    columns=(
        Column("Crime ID", "crime_id"),
        Column("Month", "month", "DATE"),
        Column("Reported by", "reported_by"),
        Column("Falls within", "falls_within"),
        Column("Longitude", "longitude", "DOUBLE"),
        Column("Latitude", "latitude", "DOUBLE"),
        Column("Location", "location"),
        Column("LSOA code", "lsoa_code"),
        Column("LSOA name", "lsoa_name"),
        Column("Crime type", "crime_type"),
        Column("Last outcome category", "last_outcome_category"),
        Column("Context", "context", required=False),
    ),
    rules=(
        Rule("month_format", r"regexp_full_match(month, '\d{4}-(0[1-9]|1[0-2])')",
             "Month must be YYYY-MM"),
        Rule("month_matches_file_name", "month = {month}",
             "Month must equal the month in the file name"),
        Rule("coordinates_numeric",
             "(longitude IS NULL OR TRY_CAST(longitude AS DOUBLE) IS NOT NULL) AND "
             "(latitude IS NULL OR TRY_CAST(latitude AS DOUBLE) IS NOT NULL)",
             "Longitude and Latitude must be numbers or blank"),
        Rule("crime_type_present", "crime_type IS NOT NULL", "Crime type must not be blank"),
        Rule("crime_type_known", f"crime_type IN ({_crime_type_list})",
             "Crime type must be one of the police.uk categories", action="quarantine_row"),
        Rule("lsoa_code_format", r"lsoa_code IS NULL OR regexp_full_match(lsoa_code, '[EW]01\d{6}')",
             "LSOA code must look like E01xxxxxx or W01xxxxxx (or be blank)", action="quarantine_row"),
    ),
    raw_ddl="""
    CREATE TABLE IF NOT EXISTS raw.police_street (
        crime_id VARCHAR, month DATE, reported_by VARCHAR, falls_within VARCHAR,
        longitude DOUBLE, latitude DOUBLE, location VARCHAR, lsoa_code VARCHAR, lsoa_name VARCHAR,
        crime_type VARCHAR, last_outcome_category VARCHAR, context VARCHAR,
        _load_id VARCHAR NOT NULL, _source_file VARCHAR NOT NULL, _source_sha256 VARCHAR NOT NULL,
        _loaded_at TIMESTAMP NOT NULL, _row_number BIGINT NOT NULL)
    """,
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
    columns=(
        Column("Crime ID", "crime_id"), Column("Month", "month", "DATE"),
        Column("Reported by", "reported_by"), Column("Falls within", "falls_within"),
        Column("Longitude", "longitude", "DOUBLE"), Column("Latitude", "latitude", "DOUBLE"),
        Column("Location", "location"), Column("LSOA code", "lsoa_code"), Column("LSOA name", "lsoa_name"),
        Column("Outcome type", "outcome_type"),
    ),
    rules=(
        Rule("month_format", r"regexp_full_match(month, '\d{4}-(0[1-9]|1[0-2])')", "Month must be YYYY-MM"),
        Rule("month_matches_file_name", "month = {month}", "Month must equal the month in the file name"),
        Rule("crime_id_present", "crime_id IS NOT NULL", "every outcome names the Crime ID it belongs to",
             action="quarantine_row"),
        Rule("outcome_type_present", "outcome_type IS NOT NULL", "Outcome type must not be blank"),
    ),
    raw_ddl="""
    CREATE TABLE IF NOT EXISTS raw.police_outcome (
        crime_id VARCHAR, month DATE, reported_by VARCHAR, falls_within VARCHAR,
        longitude DOUBLE, latitude DOUBLE, location VARCHAR, lsoa_code VARCHAR, lsoa_name VARCHAR,
        outcome_type VARCHAR,
        _load_id VARCHAR NOT NULL, _source_file VARCHAR NOT NULL, _source_sha256 VARCHAR NOT NULL,
        _loaded_at TIMESTAMP NOT NULL, _row_number BIGINT NOT NULL)
    """,
    select_sql=lambda spec, attrs, staged: """
        SELECT crime_id, CAST(month || '-01' AS DATE) AS month, reported_by, falls_within,
               TRY_CAST(longitude AS DOUBLE) AS longitude, TRY_CAST(latitude AS DOUBLE) AS latitude,
               location, NULLIF(TRIM(lsoa_code), '') AS lsoa_code, lsoa_name, outcome_type, _row_number, _file_index
        FROM _staged""",
)


def outcome_files(folder: Path, month: str | None = None) -> list[Path]:
    """Every `*-outcomes.csv` under a folder in the archive layout (or the file itself)."""
    folder = Path(folder)
    if folder.is_file():
        files = [folder] if folder.name.endswith("-outcomes.csv") else []
    else:
        files = sorted(p for p in folder.rglob("*-outcomes.csv") if p.is_file())
    return [p for p in files if not month or p.name.startswith(f"{month}-")]


def load_outcomes_file(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, POLICE_OUTCOMES, path)


STOP_SEARCH_TYPES = ("Person search", "Vehicle search", "Person and Vehicle search")

POLICE_STOP_SEARCH = SourceSpec(
    name="police_stop_search",
    raw_table="raw.police_stop_search",
    description="data.police.uk stop and search records, one file per force-month",
    file_pattern=r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z-]+)-stop-and-search\.csv",
    columns=(
        Column("Type", "search_type"), Column("Date", "searched_at"),
        Column("Part of a policing operation", "part_of_policing_operation"),
        Column("Policing operation", "policing_operation"),
        Column("Latitude", "latitude", "DOUBLE"), Column("Longitude", "longitude", "DOUBLE"),
        Column("Gender", "gender"), Column("Age range", "age_range"),
        Column("Self-defined ethnicity", "self_defined_ethnicity"),
        Column("Officer-defined ethnicity", "officer_defined_ethnicity"),
        Column("Legislation", "legislation"), Column("Object of search", "object_of_search"),
        Column("Outcome", "outcome"), Column("Outcome linked to object of search", "outcome_linked_to_object"),
        Column("Removal of more than just outer clothing", "removal_of_more_than_outer_clothing"),
    ),
    rules=(
        Rule("date_is_a_timestamp", "TRY_CAST(searched_at AS TIMESTAMPTZ) IS NOT NULL",
             "Date must be an ISO timestamp such as 2016-11-01T00:10:00+00:00"),
        Rule("date_in_file_month", "strftime(TRY_CAST(searched_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m') = {month}",
             "Date must fall in the month in the file name"),
        Rule("coordinates_numeric",
             "(longitude IS NULL OR TRY_CAST(longitude AS DOUBLE) IS NOT NULL) AND "
             "(latitude IS NULL OR TRY_CAST(latitude AS DOUBLE) IS NOT NULL)",
             "Longitude and Latitude must be numbers or blank"),
        Rule("search_type_known", "search_type IN (" + ", ".join(f"'{t}'" for t in STOP_SEARCH_TYPES) + ")",
             "Type must be Person search, Vehicle search or Person and Vehicle search", action="quarantine_row"),
    ),
    raw_ddl="""
    CREATE TABLE IF NOT EXISTS raw.police_stop_search (
        force VARCHAR, search_type VARCHAR, searched_at TIMESTAMP, part_of_policing_operation BOOLEAN,
        policing_operation VARCHAR, latitude DOUBLE, longitude DOUBLE, gender VARCHAR, age_range VARCHAR,
        self_defined_ethnicity VARCHAR, officer_defined_ethnicity VARCHAR, legislation VARCHAR,
        object_of_search VARCHAR, outcome VARCHAR, outcome_linked_to_object BOOLEAN,
        removal_of_more_than_outer_clothing BOOLEAN,
        _load_id VARCHAR NOT NULL, _source_file VARCHAR NOT NULL, _source_sha256 VARCHAR NOT NULL,
        _loaded_at TIMESTAMP NOT NULL, _row_number BIGINT NOT NULL)
    """,
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
    folder = Path(folder)
    if folder.is_file():
        files = [folder] if folder.name.endswith("-stop-and-search.csv") else []
    else:
        files = sorted(p for p in folder.rglob("*-stop-and-search.csv") if p.is_file())
    return [p for p in files if not month or p.name.startswith(f"{month}-")]


def load_stop_search_file(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, POLICE_STOP_SEARCH, path)
