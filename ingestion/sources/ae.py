"""Hospital A&E assault data (SOURCES.md §3, docs/ae_data.md): ISTV ("Cardiff Model")
submissions from each emergency department site, and ECDS-style extracts from each provider.

A file is one submission: a site's (ISTV) or a provider's (ECDS) attendances for one month. A
correction (`-r2`, `-r3`, …) replaces the submission it corrects, never adds to it; an older
revision delivered after a newer one is refused. A site or provider that sent nothing for a month
is "not delivered" there (coverage by reporting unit, seed ae_site), never zero.

Direct identifiers (NHS number, name, date of birth, postcode) are read only to derive a keyed
`patient_key`, the age and the postcode district (ingestion/privacy.py); free-text descriptions
stay in raw and are never staged or published.
"""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from ingestion import privacy
from ingestion.codes import AREA_LEVELS, seed_rows, sql_list
from ingestion.load import Column, FileRejected, ReportingUnit, Rule, SourceSpec, delivered_files, sha256_of

ASSAULT_METHODS = tuple(r["istv_code"] for r in seed_rows("ae_assault_method"))
LOCATION_TYPES = tuple(r["istv_code"] for r in seed_rows("ae_location_type"))
SEXES = ("0", "1", "2", "9", "X")       # ECDS person stated gender: not known, male, female, indeterminate, not specified
MAX_AGE = 120


def header(words: str) -> str:
    """A header regex that ignores case and whether words are joined by spaces or underscores."""
    return "(?i)" + r"[ _]?".join(re.escape(w) for w in words.replace("_", " ").split())


def _time_ok(column: str, blank: bool = False) -> str:
    check = f"regexp_full_match(trim({column}), '([01]?\\d|2[0-3]):[0-5]\\d(:[0-5]\\d)?')"
    return f"(nullif(trim({column}), '') IS NULL OR {check})" if blank else check


def _date_ok(column: str, blank: bool = False) -> str:
    check = f"TRY_CAST(trim({column}) AS DATE) IS NOT NULL"
    return f"(nullif(trim({column}), '') IS NULL OR {check})" if blank else check


# the identifiers either kind of file may carry: read, never stored (docs/ae_data.md)
IDENTIFIERS = (
    Column(header("NHS Number"), "nhs_number", required=False, stored=False, identifier=True),
    Column(r"(?i)(patient[ _]?)?(full[ _]?)?name", "patient_name", required=False, stored=False, identifier=True),
    Column(r"(?i)forenames?|given[ _]?name", "forename", required=False, stored=False, identifier=True),
    Column(r"(?i)surname|family[ _]?name", "surname", required=False, stored=False, identifier=True),
    Column(r"(?i)date[ _]?of[ _]?birth|dob|person[ _]?birth[ _]?date", "birth_date", required=False, stored=False,
           identifier=True),
    Column(r"(?i)(patient[ _]?)?postcode([ _]?of[ _]?usual[ _]?address)?", "postcode", required=False, stored=False,
           identifier=True),
)
DERIVED = (
    Column(None, "patient_key", description="HMAC-SHA256 of the NHS number (else name and date of birth) under "
                                            "the configured key: counts repeat attendances, identifies nobody"),
    Column(None, "postcode_district", description="outward code of the patient's postcode (RG1), when one was given"),
)
_NAME = "coalesce(nullif(trim(patient_name), ''), nullif(trim(concat_ws(' ', forename, surname)), ''))"
_BIRTH_DATE_OK = Rule("birth_date_valid", _date_ok("birth_date", blank=True),
                      "Date of birth must be a date (YYYY-MM-DD) or blank")
# a corrected submission never gives way to the one it corrects, whatever order they arrive in
_REVISION = "coalesce(TRY_CAST({revision} AS INTEGER), 1)"


def _latest_revision(raw_table: str) -> Rule:
    return Rule("latest_revision",
                f"{_REVISION} >= (SELECT coalesce(max(revision), 0) FROM {raw_table} WHERE submission = {{submission}})",
                "a submission must not be older than the revision of it already loaded (-r2 corrects the "
                "original; the original delivered again after it is refused)")


def _privacy_select() -> str:
    return (f"{privacy.patient_key_sql('nhs_number', _NAME, 'birth_date')} AS patient_key, "
            f"{privacy.postcode_district_sql('postcode')} AS postcode_district")


def latest_revisions(name: str, path: Path, month: str | None) -> tuple[list[tuple[SourceSpec, Path]], list[FileRejected]]:
    """The files of a source at a path, each submission only in its latest revision there (a
    folder holding an original and its correction loads the correction alone, so running it
    again changes nothing); a spreadsheet as its CSV rendering (`as_csv`)."""
    spec = SOURCE_BY_NAME[name]
    pattern = re.compile(spec.file_pattern)
    latest: dict[str, tuple[int, Path]] = {}
    for file in delivered_files(spec, path, month):
        found = pattern.fullmatch(file.name)
        revision = int(found.group("revision") or 1)
        if found.group("submission") not in latest or revision > latest[found.group("submission")][0]:
            latest[found.group("submission")] = (revision, file)
    pairs, refused = [], []
    for _, file in sorted(latest.values(), key=lambda rf: rf[1].name):
        try:
            pairs.append((spec, as_csv(file) if file.suffix.lower() == ".xlsx" else file))
        except FileRejected as rejection:
            refused.append(rejection)
    return pairs, refused


_RENDERED: list[Path] = []


def _cell_text(value: object) -> str:
    """A spreadsheet cell as a CSV field: dates ISO, times HH:MM:SS, whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_csv(path: Path) -> Path:
    """A submission sent as a spreadsheet (its first worksheet, header in the first row) as the CSV
    the loader reads, under the delivered file's own name, so the manifest, revisions and "same
    file, nothing to do" work as for a CSV. It may hold patient identifiers, so it is written to a
    private temporary folder (mode 0700) that is removed when the process ends, never beside the
    warehouse."""
    try:
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:      # openpyxl raises many types for a file that is not a workbook
        raise FileRejected(path, "spreadsheet_readable",
                           f"the file cannot be read as an Excel workbook ({type(error).__name__})") from None
    try:
        rows = [[_cell_text(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()
    while rows and not any(rows[-1]):
        rows.pop()                  # Excel keeps formatted empty rows at the end
    if not _RENDERED:
        _RENDERED.append(Path(tempfile.mkdtemp(prefix="vru-ae-")))
        atexit.register(shutil.rmtree, _RENDERED[0], True)
    folder = _RENDERED[0] / sha256_of(path)
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / path.name
    partial = folder / f".{uuid.uuid4().hex}.part"
    with open(partial, "w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows(rows)
    os.replace(partial, target)
    return target


AE_ISTV = SourceSpec(
    name="ae_istv",
    raw_table="raw.ae_istv",
    description="ISTV (Cardiff Model, ISB 1594) submissions: one emergency department site's assault attendances for a month",
    gx_suite="raw_ae_istv",
    file_pattern=r"(?P<submission>istv-(?P<site>[A-Z0-9]{3,8})-(?P<month>\d{4}-\d{2}))(-r(?P<revision>\d{1,3}))?\.(csv|xlsx)",
    replace_scope="group:submission",
    refresh="by_period", area_level="pfa", period_type="month", period_sql="reporting_period_start",
    reporting_unit=ReportingUnit("ae_site", "{site}"),
    health_data=True, landing="ae/istv", discover=lambda path, month: latest_revisions("ae_istv", path, month),
    columns=(
        Column(None, "submission", not_null=True, description="site and month of the submission, from the file name"),
        Column(None, "revision", "INTEGER", not_null=True, between=(1, None), description="1, or N for a correction -rN"),
        Column(header("Site Code"), "site_code", not_null=True),
        Column(header("Reporting Period Start"), "reporting_period_start", "DATE", not_null=True),
        Column(header("Reporting Period End"), "reporting_period_end", "DATE", not_null=True),
        Column(header("Attendance Reference"), "attendance_ref", required=False),
        Column(header("Arrival Date"), "arrival_date", "DATE", not_null=True),
        Column(header("Arrival Time"), "arrival_time", "TIME", not_null=True),
        Column(header("Assault Date"), "assault_date", "DATE"),
        Column(header("Assault Time"), "assault_time", "TIME"),
        Column(header("Assault Method"), "assault_method", not_null=True, values=ASSAULT_METHODS),
        Column(header("Assault Method Description"), "assault_method_description", required=False,
               description="free text: raw only, never staged or published"),
        Column(header("Assault Location Type"), "location_type", not_null=True, values=LOCATION_TYPES),
        Column(header("Assault Location Description"), "location_description", required=False,
               description="free text: raw only, never staged or published"),
        *IDENTIFIERS,
        *DERIVED,
    ),
    rules=(
        Rule("site_matches_file_name", "upper(trim(site_code)) = {site}", "Site Code must be the site in the file name"),
        Rule("reporting_period_is_file_month",
             "TRY_CAST(trim(reporting_period_start) AS DATE) = CAST({month} || '-01' AS DATE) AND "
             "TRY_CAST(trim(reporting_period_end) AS DATE) = last_day(CAST({month} || '-01' AS DATE))",
             "Reporting Period Start and End must be the first and last day of the month in the file name"),
        Rule("arrival_in_reporting_period",
             "date_trunc('month', TRY_CAST(trim(arrival_date) AS DATE)) = CAST({month} || '-01' AS DATE)",
             "Arrival Date must be a date (YYYY-MM-DD) in the reporting period"),
        Rule("arrival_time_format", _time_ok("arrival_time"), "Arrival Time must be HH:MM or HH:MM:SS"),
        Rule("assault_date_format", _date_ok("assault_date", blank=True), "Assault Date must be a date or blank"),
        Rule("assault_time_format", _time_ok("assault_time", blank=True), "Assault Time must be HH:MM[:SS] or blank"),
        _BIRTH_DATE_OK,
        _latest_revision("raw.ae_istv"),
        Rule("assault_method_known", f"lpad(trim(assault_method), 2, '0') IN ({sql_list(ASSAULT_METHODS)})",
             "Assault Method must be a code of the seed ae_assault_method", action="quarantine_row"),
        Rule("location_type_known", f"lpad(trim(location_type), 2, '0') IN ({sql_list(LOCATION_TYPES)})",
             "Assault Location Type must be a code of the seed ae_location_type", action="quarantine_row"),
    ),
    select_sql=lambda spec, attrs, staged: f"""
        SELECT {{submission}} AS submission, {_REVISION} AS revision, upper(trim(site_code)) AS site_code,
               CAST(trim(reporting_period_start) AS DATE) AS reporting_period_start,
               CAST(trim(reporting_period_end) AS DATE) AS reporting_period_end,
               nullif(trim(attendance_ref), '') AS attendance_ref,
               CAST(trim(arrival_date) AS DATE) AS arrival_date, CAST(trim(arrival_time) AS TIME) AS arrival_time,
               TRY_CAST(trim(assault_date) AS DATE) AS assault_date, TRY_CAST(trim(assault_time) AS TIME) AS assault_time,
               lpad(trim(assault_method), 2, '0') AS assault_method,
               nullif(trim(assault_method_description), '') AS assault_method_description,
               lpad(trim(location_type), 2, '0') AS location_type,
               nullif(trim(location_description), '') AS location_description,
               {_privacy_select()}, _row_number, _file_index
        FROM _staged""",
)

_LSOA = AREA_LEVELS["lsoa"]
AE_ECDS = SourceSpec(
    name="ae_ecds",
    raw_table="raw.ae_ecds",
    description="ECDS-style extracts of emergency care injury attendances: one provider's month",
    gx_suite="raw_ae_ecds",
    file_pattern=r"(?P<submission>ecds-(?P<provider>[A-Z0-9]{3,5})-(?P<month>\d{4}-\d{2}))(-r(?P<revision>\d{1,3}))?\.(csv|xlsx)",
    replace_scope="group:submission",
    unique_key=("ec_ident",),
    refresh="by_period", area_level="lsoa", period_type="month", period_sql="date_trunc('month', arrival_date)",
    reporting_unit=ReportingUnit("ae_provider", "{provider}"),
    health_data=True, landing="ae/ecds", discover=lambda path, month: latest_revisions("ae_ecds", path, month),
    columns=(
        Column(None, "submission", not_null=True, description="provider and month of the extract, from the file name"),
        Column(None, "revision", "INTEGER", not_null=True, between=(1, None), description="1, or N for a correction -rN"),
        Column(header("Der_Provider_Code"), "provider_code", not_null=True),
        Column(header("EC_Ident"), "ec_ident", not_null=True),
        Column(header("Arrival_Date"), "arrival_date", "DATE", not_null=True),
        Column(header("Arrival_Time"), "arrival_time", "TIME", not_null=True),
        Column(header("Age_At_Arrival"), "age_at_arrival", "INTEGER", required=False, between=(0, MAX_AGE)),
        Column(None, "age_band", description="five-year band of the age at arrival (ESP2013's: 0-4 … 90+)"),
        Column(header("Sex"), "sex", values=SEXES),
        Column(header("EC_Injury_Date"), "injury_date", "DATE", required=False),
        Column(header("EC_Injury_Time"), "injury_time", "TIME", required=False),
        Column(header("EC_Injury_Intent_SNOMED_CT"), "injury_intent_snomed"),
        Column(header("EC_Injury_Mechanism_SNOMED_CT"), "injury_mechanism_snomed"),
        Column(header("EC_Place_Of_Injury_SNOMED_CT"), "place_of_injury_snomed", required=False),
        Column(header("EC_Place_Of_Injury_Latitude"), "place_of_injury_latitude", "DOUBLE", required=False,
               between=(49.8, 60.9)),
        Column(header("EC_Place_Of_Injury_Longitude"), "place_of_injury_longitude", "DOUBLE", required=False,
               between=(-8.7, 2.0)),
        Column(r"(?i)der[ _]?postcode[ _]?lsoa([ _]?2021)?[ _]?code", "residence_lsoa21_code", area_level="lsoa"),
        Column(header("Der_Dupe_Flag"), "dupe_flag", "BOOLEAN", required=False),
        Column(header("EC_Chief_Complaint_SNOMED_CT"), "chief_complaint_snomed", required=False),
        Column(header("EC_Arrival_Mode_SNOMED_CT"), "arrival_mode_snomed", required=False),
        Column(header("Der_EC_Diagnosis_All"), "diagnosis_all", required=False),
        *IDENTIFIERS,
        *DERIVED,
    ),
    rules=(
        Rule("provider_matches_file_name", "upper(trim(provider_code)) = {provider}",
             "Der_Provider_Code must be the provider in the file name"),
        Rule("ec_ident_present", "nullif(trim(ec_ident), '') IS NOT NULL", "EC_Ident must not be blank"),
        Rule("arrival_in_file_month",
             "date_trunc('month', TRY_CAST(trim(arrival_date) AS DATE)) = CAST({month} || '-01' AS DATE)",
             "Arrival_Date must be a date (YYYY-MM-DD) in the month of the file name"),
        Rule("arrival_time_format", _time_ok("arrival_time"), "Arrival_Time must be HH:MM or HH:MM:SS"),
        Rule("age_known",
             f"TRY_CAST(trim(age_at_arrival) AS INTEGER) BETWEEN 0 AND {MAX_AGE} OR "
             f"(nullif(trim(age_at_arrival), '') IS NULL AND TRY_CAST(trim(birth_date) AS DATE) IS NOT NULL)",
             f"Age_At_Arrival must be a whole number from 0 to {MAX_AGE}, or blank with a date of birth given"),
        Rule("sex_code", f"upper(trim(sex)) IN ({sql_list(SEXES)})", "Sex must be one of " + ", ".join(SEXES)),
        Rule("injury_date_format", _date_ok("injury_date", blank=True), "EC_Injury_Date must be a date or blank"),
        Rule("injury_time_format", _time_ok("injury_time", blank=True), "EC_Injury_Time must be HH:MM[:SS] or blank"),
        Rule("coordinates_numeric", " AND ".join(
                 f"(nullif(trim({c}), '') IS NULL OR TRY_CAST({c} AS DOUBLE) IS NOT NULL)"
                 for c in ("place_of_injury_latitude", "place_of_injury_longitude")),
             "EC_Place_Of_Injury_Latitude and _Longitude must be numbers or blank"),
        Rule("snomed_codes_numeric",
             "coalesce(regexp_full_match(trim(injury_intent_snomed), '\\d{6,18}'), true) AND "
             "coalesce(regexp_full_match(trim(injury_mechanism_snomed), '\\d{6,18}'), true) AND "
             "coalesce(regexp_full_match(trim(place_of_injury_snomed), '\\d{6,18}'), true)",
             "SNOMED CT codes must be 6 to 18 digits or blank"),
        Rule("dupe_flag_format", "coalesce(trim(dupe_flag), '') IN ('', '0', '1')", "Der_Dupe_Flag must be 0, 1 or blank"),
        _BIRTH_DATE_OK,
        _latest_revision("raw.ae_ecds"),
        Rule("lsoa_code_format", _LSOA.code_rule_sql("residence_lsoa21_code", allow_blank=True),
             "Der_Postcode_LSOA_Code must look like E01xxxxxx or W01xxxxxx (or be blank)", action="quarantine_row"),
    ),
    select_sql=lambda spec, attrs, staged: f"""
        SELECT *, {privacy.age_band_sql('age_at_arrival')} AS age_band
        FROM (
            SELECT {{submission}} AS submission, {_REVISION} AS revision,
                   upper(trim(provider_code)) AS provider_code, trim(ec_ident) AS ec_ident,
                   CAST(trim(arrival_date) AS DATE) AS arrival_date, CAST(trim(arrival_time) AS TIME) AS arrival_time,
                   coalesce({privacy.age_sql('birth_date', 'trim(arrival_date)')},
                            TRY_CAST(trim(age_at_arrival) AS INTEGER)) AS age_at_arrival,
                   upper(trim(sex)) AS sex,
                   TRY_CAST(trim(injury_date) AS DATE) AS injury_date, TRY_CAST(trim(injury_time) AS TIME) AS injury_time,
                   nullif(trim(injury_intent_snomed), '') AS injury_intent_snomed,
                   nullif(trim(injury_mechanism_snomed), '') AS injury_mechanism_snomed,
                   nullif(trim(place_of_injury_snomed), '') AS place_of_injury_snomed,
                   TRY_CAST(place_of_injury_latitude AS DOUBLE) AS place_of_injury_latitude,
                   TRY_CAST(place_of_injury_longitude AS DOUBLE) AS place_of_injury_longitude,
                   nullif(upper(trim(residence_lsoa21_code)), '') AS residence_lsoa21_code,
                   coalesce(trim(dupe_flag), '') = '1' AS dupe_flag,
                   nullif(trim(chief_complaint_snomed), '') AS chief_complaint_snomed,
                   nullif(trim(arrival_mode_snomed), '') AS arrival_mode_snomed,
                   nullif(trim(diagnosis_all), '') AS diagnosis_all,
                   {_privacy_select()}, _row_number, _file_index
            FROM _staged)""",
)

SOURCES = (AE_ISTV, AE_ECDS)
SOURCE_BY_NAME = {s.name: s for s in SOURCES}
