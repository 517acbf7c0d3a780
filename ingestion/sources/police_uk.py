"""data.police.uk archives (SOURCES.md §1): street-level crime, outcomes and stop-and-search
files, one file per force-month (`YYYY-MM-<force>-street.csv` and its siblings).

One file is one delivery: a re-delivered month replaces that force-month, never doubles it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import duckdb

from ingestion.codes import AREA_LEVELS, CRIME_TYPES, ENGLAND_WALES_FORCES, sql_list
from ingestion.load import (
    Column,
    FileRejected,
    LoadResult,
    ReportingUnit,
    ResourceExhausted,
    Rule,
    SourceSpec,
    delivered_files,
    load_file,
    resource_fault,
    shown,
)

# Limits on a police.uk archive (`vru ingest police-street x.zip`, `vru download-police`), checked
# from the zip's central directory before anything is unpacked, and enforced while unpacking (a
# member writing more than it declares stops it). data.police.uk's archive holds every force's
# files for a range of months: about 1.5 GB uncompressed and ~200 files a month (45 forces ×
# street, outcomes, stop-and-search), deflated at ratios below 20. So: 8 GiB by default (raise it
# with VRU_ARCHIVE_MAX_GIB for a longer range), 20,000 files, a ratio of 100 (a zip bomb's is in
# the hundreds or thousands), judged on members over 1 MiB (a small repetitive file compresses
# well and is harmless).
ARCHIVE_MAX_TOTAL_BYTES = int(float(os.environ.get("VRU_ARCHIVE_MAX_GIB", "8")) * (1 << 30))
ARCHIVE_MAX_MEMBERS = 20_000
ARCHIVE_MAX_RATIO = 100
ARCHIVE_RATIO_FROM_BYTES = 1 << 20
DELIVERED_SUFFIXES = ("-street.csv", "-outcomes.csv", "-stop-and-search.csv")

_MONTH_RULES = (
    Rule("month_format", r"regexp_full_match(month, '\d{4}-(0[1-9]|1[0-2])')", "Month must be YYYY-MM"),
    Rule("month_matches_file_name", "month = {month}", "Month must equal the month in the file name"),
)
# Northern Ireland's files share the archive; no mart is of Northern Ireland, so they are refused
# by name rather than loaded, "passed" and then lost
FORCE_IN_ENGLAND_WALES = Rule(
    "force_in_england_wales", f"{{force}} IN ({sql_list(ENGLAND_WALES_FORCES)})",
    "the force in the file name must be a police.uk force of England and Wales (seed police_force): "
    "the platform's areas are England and Wales")
# each file reports for the force in its name (coverage: seed police_force places it in its area)
REPORTED_BY_FORCE = ReportingUnit("police_force", "{force}")
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
    reporting_unit=REPORTED_BY_FORCE,
    columns=(
        Column(None, "force", description="police.uk force id, from the file name (the force reporting the record)"),
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
        FORCE_IN_ENGLAND_WALES,
        *_MONTH_RULES,
        _COORDINATES_NUMERIC,
        Rule("crime_type_present", "crime_type IS NOT NULL", "Crime type must not be blank"),
        Rule("crime_type_known", f"crime_type IN ({sql_list(CRIME_TYPES)})",
             "Crime type must be one of the police.uk categories", action="quarantine_row"),
        _LSOA_CODE_FORMAT,
    ),
    select_sql=lambda spec, attrs, staged: """
        SELECT {force} AS force, NULLIF(TRIM(crime_id), '') AS crime_id,
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
    `<archive stem>/` next to it; returns that folder. The archive is checked first (readable,
    limits, no member outside the folder: absolute paths, `..` and links refused) and unpacked
    into a scratch folder beside it, whose files are moved into place only when all are out: a
    refused archive (FileRejected naming the rule) leaves nothing unpacked."""
    archive = Path(archive)
    target = archive.with_suffix("")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise FileRejected(archive, "archive_target", f"{shown(target.name)} beside it is a link or a file, not a folder")
    with open_archive(archive) as zipped:
        members = archive_members(archive, zipped, DELIVERED_SUFFIXES)
        if not members:
            raise FileRejected(archive, "archive_has_files",
                               "no police.uk street, outcomes or stop-and-search files in it (YYYY-MM-<force>-street.csv…)")
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.unpacking-", dir=archive.parent))
        try:
            extract_members(archive, zipped, members, scratch)
            target.mkdir(exist_ok=True)
            root = target.resolve()
            for info in members:
                dest = target / info.filename
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.is_symlink() or not dest.resolve().is_relative_to(root):
                    raise FileRejected(archive, "archive_member_path",
                                       f"member {shown(info.filename)!r} would be written outside {shown(target.name)}/")
                os.replace(scratch / info.filename, dest)
        except OSError as error:
            if resource_fault(error):
                raise ResourceExhausted(f"unpacking {shown(archive.name)}: ran out of {resource_fault(error)} "
                                        f"({error}); no file was loaded") from error
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def _declared_members(archive: Path) -> int | None:
    """The member count the archive's end-of-central-directory record declares (zip64 too), read
    from its last bytes before Python parses the whole directory into memory; None when there is
    no such record (zipfile then says it is not a zip)."""
    with open(archive, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - (22 + 0xFFFF)))
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return None
        count = int.from_bytes(tail[at + 10:at + 12], "little")
        if count == 0xFFFF and at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":
            handle.seek(int.from_bytes(tail[at - 12:at - 4], "little"))
            record = handle.read(56)
            if record[:4] == b"PK\x06\x06":
                count = int.from_bytes(record[32:40], "little")
        return count


def open_archive(archive: Path) -> zipfile.ZipFile:
    """The archive opened for reading; a corrupt file, or one declaring more than
    ARCHIVE_MAX_MEMBERS members, is refused by name (FileRejected) before anything is read."""
    declared = _declared_members(archive)
    if declared is not None and declared > ARCHIVE_MAX_MEMBERS:
        raise FileRejected(archive, "archive_member_count",
                           f"the archive declares {declared:,} members, more than the limit of {ARCHIVE_MAX_MEMBERS:,}")
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as error:
        raise FileRejected(archive, "archive_readable", f"not a readable zip archive ({error or 'empty or truncated'})") from None


def archive_members(archive: Path, zipped: zipfile.ZipFile, wanted: tuple[str, ...]) -> list[zipfile.ZipInfo]:
    """Check the whole central directory, before anything is unpacked, and return the members
    whose names end with one of `wanted`. Refused (FileRejected, naming the rule and member): a
    member with an absolute path, a drive, `..`, a repeated name or a link; more than
    ARCHIVE_MAX_MEMBERS members; more than ARCHIVE_MAX_TOTAL_BYTES declared uncompressed; a
    member compressed more than ARCHIVE_MAX_RATIO times; a wanted member stored with a method
    other than deflate (bzip2 and lzma inflate without a bound in Python's reader)."""
    infos = zipped.infolist()
    if len(infos) > ARCHIVE_MAX_MEMBERS:
        raise FileRejected(archive, "archive_member_count",
                           f"{len(infos):,} members, more than the limit of {ARCHIVE_MAX_MEMBERS:,}")
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if (name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts
                or "\x00" in name or name.rstrip("/") in seen):
            raise FileRejected(archive, "archive_member_path",
                               f"member {shown(name)!r} is an absolute path, leaves the folder or is repeated")
        seen.add(name.rstrip("/"))
        if stat.S_ISLNK(info.external_attr >> 16):
            raise FileRejected(archive, "archive_member_symlink", f"member {shown(name)!r} is a symbolic link")
    files = [i for i in infos if not i.is_dir()]
    total = sum(i.file_size for i in files)
    if total > ARCHIVE_MAX_TOTAL_BYTES:
        raise FileRejected(archive, "archive_total_size",
                           f"the members declare {total:,} bytes uncompressed, more than the limit of "
                           f"{ARCHIVE_MAX_TOTAL_BYTES:,} (ARCHIVE_MAX_TOTAL_BYTES)")
    for info in files:
        if info.file_size > ARCHIVE_RATIO_FROM_BYTES and info.file_size > ARCHIVE_MAX_RATIO * max(info.compress_size, 1):
            raise FileRejected(archive, "archive_compression_ratio",
                               f"member {shown(info.filename)!r} declares {info.file_size:,} bytes from "
                               f"{info.compress_size:,} compressed (ratio {info.file_size / max(info.compress_size, 1):,.0f}, "
                               f"more than the limit of {ARCHIVE_MAX_RATIO}): a zip bomb is not unpacked")
    chosen = [i for i in files if PurePosixPath(i.filename).name.endswith(wanted)]
    for info in chosen:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileRejected(archive, "archive_compression_method",
                               f"member {shown(info.filename)!r} is not stored or deflated (method {info.compress_type})")
    return chosen


def extract_members(archive: Path, zipped: zipfile.ZipFile, members: list[zipfile.ZipInfo], into: Path) -> None:
    """Unpack checked members under `into` (a new, empty folder), each checked to land inside it
    and written to a new file (never through an existing file or link), counting the bytes: a
    member producing more than it declares, or all of them more than ARCHIVE_MAX_TOTAL_BYTES,
    stops the unpacking (FileRejected); so does a corrupt member."""
    root = Path(into).resolve()
    written = 0
    for info in members:
        dest = root / info.filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.resolve().is_relative_to(root):
            raise FileRejected(archive, "archive_member_path", f"member {shown(info.filename)!r} leaves the folder")
        size = 0
        try:
            with zipped.open(info) as source, open(dest, "xb") as out:
                while block := source.read(1 << 20):
                    size += len(block)
                    written += len(block)
                    if size > info.file_size:
                        raise FileRejected(archive, "archive_member_size",
                                           f"member {shown(info.filename)!r} unpacks to more than the "
                                           f"{info.file_size:,} bytes it declares; unpacking stopped")
                    if written > ARCHIVE_MAX_TOTAL_BYTES:
                        raise FileRejected(archive, "archive_total_size",
                                           f"unpacked more than the limit of {ARCHIVE_MAX_TOTAL_BYTES:,} bytes; "
                                           "unpacking stopped")
                    out.write(block)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise FileRejected(archive, "archive_readable", f"member {shown(info.filename)!r} is corrupt ({error})") from None


def load_street_file(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, POLICE_STREET, path)


POLICE_OUTCOMES = SourceSpec(
    name="police_outcomes",
    raw_table="raw.police_outcome",
    description="data.police.uk outcomes: each outcome recorded for a crime, joined to crimes by Crime ID",
    file_pattern=r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z-]+)-outcomes\.csv",
    # an outcome belongs to a crime of any earlier month: what is counted from outcomes is rebuilt in full
    refresh="revises_history", area_level="lsoa", period_type="month", period_sql="month",
    reporting_unit=REPORTED_BY_FORCE,
    columns=(
        Column("Crime ID", "crime_id"), Column("Month", "month", "DATE"),
        Column("Reported by", "reported_by"), Column("Falls within", "falls_within"),
        Column("Longitude", "longitude", "DOUBLE"), Column("Latitude", "latitude", "DOUBLE"),
        Column("Location", "location"), Column("LSOA code", "lsoa_code"), Column("LSOA name", "lsoa_name"),
        Column("Outcome type", "outcome_type"),
    ),
    rules=(
        FORCE_IN_ENGLAND_WALES,
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
    period_sql="date_trunc('month', searched_at)", reporting_unit=ReportingUnit("police_force", "force"),
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
        FORCE_IN_ENGLAND_WALES,
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
