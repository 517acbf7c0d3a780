"""A&E deliveries (ISTV submissions, ECDS extracts): direct identifiers never stored, corrections
replace, never double. Expected values are worked out here by hand or with Python's own hmac,
never read back from the loader."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import duckdb
import pytest

from ingestion import privacy
from ingestion.load import discover_files, load_files
from ingestion.sources.ae import AE_ECDS, AE_ISTV

KEY = "a-test-key-that-is-long-enough-0123456789"
ECDS_HEADER = ("EC_Ident,Der_Provider_Code,Arrival_Date,Arrival_Time,Age_At_Arrival,Sex,EC_Injury_Date,"
               "EC_Injury_Time,EC_Injury_Intent_SNOMED_CT,EC_Injury_Mechanism_SNOMED_CT,EC_Place_Of_Injury_SNOMED_CT,"
               "EC_Place_Of_Injury_Latitude,EC_Place_Of_Injury_Longitude,Der_Postcode_LSOA_2021_Code,Der_Dupe_Flag,"
               "NHS_Number,Patient_Name,Person_Birth_Date,Postcode\n")
# (ec_ident, arrival date, time, age column, nhs number, name, birth date, postcode, lsoa)
# 943 476 5919 and 401 023 2137 pass modulus 11; 943 476 5918 does not (its check digit is 9)
PATIENTS = [
    ("A1", "2025-03-07", "23:15", "", "943 476 5919", "Alex Smith", "2005-03-08", "RG1 4AB", "E01090001"),
    ("A2", "2025-03-21", "01:40", "", "9434765919", "Alex  Smith", "2005-03-08", "rg14ab", "E01090001"),
    ("A3", "2025-03-22", "22:05", "40", "4010232137", "Sam Jones", "1984-11-30", "SL1 2XY", "E01090003"),
    ("A4", "2025-03-29", "02:30", "", "9434765918", "Jo Bloggs", "2010-01-15", "OX4 1AA", "E01090004"),
]
IDENTIFYING = ["9434765919", "943 476 5919", "4010232137", "9434765918", "Alex Smith", "Sam Jones", "Jo Bloggs",
               "2005-03-08", "1984-11-30", "2010-01-15", "RG1 4AB", "RG14AB", "rg14ab", "SL1 2XY", "OX4 1AA"]


def ecds_row(p, mechanism="283565005", intent="52684005") -> str:
    ident, date, time, age, nhs, name, born, postcode, lsoa = p
    return (f"{ident},RHW,{date},{time},{age},1,{date},{time},{intent},{mechanism},1066351000000102,"
            f"51.45,-0.97,{lsoa},0,{nhs},{name},{born},{postcode}\n")


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def keyed(text: str) -> str:
    return hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


def every_value(con) -> list[str]:
    """Every value of every column of every table and view in the database, as text."""
    found = []
    for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal").fetchall():
        for row in con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
            found.extend(str(v) for v in row if v is not None)
    return found


def leaks(values: list[str]) -> list[str]:
    lowered = [v.lower().replace(" ", "") for v in values]
    return [needle for needle in IDENTIFYING
            if any(needle.lower().replace(" ", "") in v for v in lowered)]


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv(privacy.KEY_ENV, KEY)
    path = tmp_path / "vru.duckdb"
    with duckdb.connect(str(path)) as con:
        yield con, path


def test_identifiers_become_a_keyed_hash_an_age_and_a_district_and_nothing_else(warehouse, tmp_path):
    con, path = warehouse
    extract = write(tmp_path / "ecds", "ecds-RHW-2025-03.csv", ECDS_HEADER + "".join(ecds_row(p) for p in PATIENTS))
    [result] = load_files(con, AE_ECDS, [extract])
    assert result.outcome == "loaded", result.message
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT ec_ident, patient_key, age_at_arrival, age_band, postcode_district FROM raw.ae_ecds").fetchall()}
    # the same person twice (spaces in the number, a double space in the name): one key
    assert rows["A1"][0] == rows["A2"][0] == keyed("nhs:9434765919")
    assert rows["A3"][0] == keyed("nhs:4010232137")
    # a number failing modulus 11 is not a patient's: the key falls back to name and birth date
    assert rows["A4"][0] == keyed("person:jo bloggs|2010-01-15")
    # completed years: born 8 March 2005, so 19 on 7 March 2025 and 20 on 21 March
    assert [rows[i][1:3] for i in ("A1", "A2", "A4")] == [(19, "15-19"), (20, "20-24"), (15, "15-19")]
    assert rows["A3"][1:3] == (40, "40-44")          # born 30 November 1984: 40 on 22 March 2025
    assert [rows[i][3] for i in ("A1", "A2", "A3", "A4")] == ["RG1", "RG1", "SL1", "OX4"]
    assert not leaks(every_value(con))
    con.close()
    with duckdb.connect(str(path), read_only=True) as reopened:   # the file as written to disk
        assert not leaks(every_value(reopened))
    assert not any(needle.encode() in path.read_bytes() for needle in ("9434765919", "Alex Smith", "RG1 4AB"))


def test_no_key_refuses_a_file_with_identifiers_and_stores_nothing(warehouse, tmp_path, monkeypatch):
    con, _ = warehouse
    monkeypatch.delenv(privacy.KEY_ENV)
    extract = write(tmp_path / "ecds", "ecds-RHW-2025-03.csv", ECDS_HEADER + ecds_row(PATIENTS[0]))
    [result] = load_files(con, AE_ECDS, [extract])
    assert result.outcome == "rejected"
    assert result.rejection.rule == "pseudonymisation_key"
    assert "ecds-RHW-2025-03.csv" in result.message and privacy.KEY_ENV in result.message
    assert con.execute("SELECT count(*) FROM raw.ae_ecds").fetchone() == (0,)
    assert not leaks(every_value(con))
    # the same extract without identifiers needs no key
    plain = write(tmp_path / "plain", "ecds-RHW-2025-03.csv",
                  ECDS_HEADER.replace(",NHS_Number,Patient_Name,Person_Birth_Date,Postcode", "")
                  + ecds_row(PATIENTS[2]).rsplit(",", 4)[0] + "\n")
    [result] = load_files(con, AE_ECDS, [plain])
    assert result.outcome == "loaded", result.message
    assert con.execute("SELECT patient_key, age_at_arrival FROM raw.ae_ecds").fetchall() == [(None, 40)]


def test_a_short_key_is_refused_before_anything_is_read(warehouse, tmp_path, monkeypatch):
    con, _ = warehouse
    monkeypatch.setenv(privacy.KEY_ENV, "short")
    extract = write(tmp_path / "ecds", "ecds-RHW-2025-03.csv", ECDS_HEADER + ecds_row(PATIENTS[0]))
    with pytest.raises(privacy.KeyInvalid, match="at least 16"):
        load_files(con, AE_ECDS, [extract])


def test_refusals_and_quarantine_never_quote_an_identifier(warehouse, tmp_path):
    con, _ = warehouse
    bad_time = ecds_row(PATIENTS[0]).replace("23:15", "25:99")
    [refused] = load_files(con, AE_ECDS, [write(tmp_path / "a", "ecds-RHW-2025-03.csv", ECDS_HEADER + bad_time)])
    assert refused.outcome == "rejected" and refused.rejection.rule == "arrival_time_format"
    assert refused.rejection.row == 1 and "A1" in refused.message        # the row is named, its person is not
    assert not leaks([refused.message])
    bad_lsoa = ecds_row(PATIENTS[2]).replace("E01090003", "NOT-AN-LSOA")
    [loaded] = load_files(con, AE_ECDS, [write(tmp_path / "b", "ecds-RHW-2025-03.csv",
                                               ECDS_HEADER + ecds_row(PATIENTS[0]) + bad_lsoa)])
    assert (loaded.rows_loaded, loaded.rows_quarantined) == (1, 1)
    [(record,)] = con.execute("SELECT record FROM quarantine.rejected_row").fetchall()
    assert json.loads(record)["residence_lsoa21_code"] == "NOT-AN-LSOA"
    assert not leaks(every_value(con))


ISTV_HEADER = ("Site Code,Reporting Period Start,Reporting Period End,Attendance Reference,Arrival Date,Arrival Time,"
               "Assault Date,Assault Time,Assault Method,Assault Method Description,Assault Location Type,"
               "Assault Location Description\n")


def istv(rows: list[tuple[str, str, str]]) -> str:
    """rows: (attendance reference, arrival date, assault method code)."""
    return ISTV_HEADER + "".join(
        f"RHW01,2025-03-01,2025-03-31,{ref},{date},23:30,{date},23:00,{method},punched outside a bar,02,High Street\n"
        for ref, date, method in rows)


def test_a_correction_replaces_its_submission_and_an_older_one_is_refused(warehouse, tmp_path):
    con, _ = warehouse
    folder = tmp_path / "istv"
    original = write(folder, "istv-RHW01-2025-03.csv",
                     istv([("R1", "2025-03-01", "01"), ("R2", "2025-03-02", "01"), ("R3", "2025-03-03", "02")]))
    april = write(folder, "istv-RHW01-2025-04.csv", istv([("R9", "2025-04-01", "01")]).replace("2025-03-01,2025-03-31",
                                                                                           "2025-04-01,2025-04-30"))
    load_files(con, AE_ISTV, [original, april])
    assert con.execute("SELECT count(*) FROM raw.ae_istv").fetchone() == (4,)
    # the correction: R2 was a knife, R3 withdrawn, R4 added
    correction = write(folder, "istv-RHW01-2025-03-r2.csv",
                       istv([("R1", "2025-03-01", "01"), ("R2", "2025-03-02", "02"), ("R4", "2025-03-04", "01")]))
    [result] = load_files(con, AE_ISTV, [correction])
    assert result.outcome == "loaded", result.message
    assert con.execute("SELECT attendance_ref, assault_method, revision FROM raw.ae_istv ORDER BY 1").fetchall() == [
        ("R1", "01", 2), ("R2", "02", 2), ("R4", "01", 2), ("R9", "01", 1)]
    # the folder holds both: only the correction is found, and it is already loaded
    found = [f.name for _, f in discover_files(AE_ISTV, folder)[0]]
    assert found == ["istv-RHW01-2025-03-r2.csv", "istv-RHW01-2025-04.csv"]
    assert {r.outcome for r in load_files(con, AE_ISTV, [f for _, f in discover_files(AE_ISTV, folder)[0]])} \
        == {"unchanged"}
    # the original delivered again on its own never undoes the correction
    [late] = load_files(con, AE_ISTV, [original])
    assert late.outcome == "rejected" and late.rejection.rule == "latest_revision"
    assert con.execute("SELECT count(*), max(revision) FROM raw.ae_istv WHERE submission = 'istv-RHW01-2025-03'"
                       ).fetchone() == (3, 2)
    assert con.execute("SELECT reporting_unit, period_start::VARCHAR, records FROM raw.load_period "
                       "JOIN raw.accepted_load USING (load_id) ORDER BY 2").fetchall() == [
        ("RHW01", "2025-03-01", 3), ("RHW01", "2025-04-01", 1)]


def test_an_istv_file_for_another_site_or_month_is_refused_by_name(warehouse, tmp_path):
    con, _ = warehouse
    text = istv([("R1", "2025-03-01", "01")])
    [wrong_site] = load_files(con, AE_ISTV, [write(tmp_path / "a", "istv-RTH08-2025-03.csv", text)])
    [wrong_month] = load_files(con, AE_ISTV, [write(tmp_path / "b", "istv-RHW01-2025-04.csv", text)])
    assert (wrong_site.rejection.rule, wrong_month.rejection.rule) == (
        "site_matches_file_name", "reporting_period_is_file_month")
    [unknown] = load_files(con, AE_ISTV, [write(tmp_path / "c", "istv-RHW01-2025-03.csv",
                                                text + text.splitlines()[1].replace(",01,", ",77,") + "\n")])
    assert (unknown.rows_loaded, unknown.rows_quarantined) == (1, 1)


def test_a_submission_sent_as_a_spreadsheet_loads_like_its_csv(warehouse, tmp_path):
    """Excel turns dates and times into cells of those types and drops the codes' leading zeros:
    the rendering writes them back as the CSV has them, so both load the same rows."""
    import datetime as dt

    import openpyxl

    con, path = warehouse
    csv_text = istv([("R1", "2025-03-01", "01"), ("R2", "2025-03-02", "02")])
    book = openpyxl.Workbook()
    sheet = book.active
    for i, line in enumerate(csv_text.splitlines()):
        cells = line.split(",")
        if i:   # typed as a site would: real dates and times, codes as numbers
            cells[1:3] = [dt.datetime.fromisoformat(c) for c in cells[1:3]]
            cells[4], cells[6] = dt.datetime.fromisoformat(cells[4]), dt.datetime.fromisoformat(cells[6])
            cells[5], cells[7] = dt.time.fromisoformat(cells[5]), dt.time.fromisoformat(cells[7])
            cells[8], cells[10] = int(cells[8]), int(cells[10])
        sheet.append(cells)
    sheet.append([])            # formatted empty rows at the end are not rows
    (tmp_path / "xlsx").mkdir()
    book.save(tmp_path / "xlsx" / "istv-RHW01-2025-03.xlsx")
    pairs, refused = discover_files(AE_ISTV, tmp_path / "xlsx")
    assert not refused and [f.name for _, f in pairs] == ["istv-RHW01-2025-03.xlsx"]
    assert path.parent not in pairs[0][1].parents                   # rendered outside the warehouse
    [from_sheet] = load_files(con, AE_ISTV, [f for _, f in pairs])
    assert from_sheet.outcome == "loaded", from_sheet.message
    columns = "attendance_ref, arrival_date, arrival_time, assault_method, location_type, reporting_period_end"
    got = con.execute(f"SELECT {columns} FROM raw.ae_istv ORDER BY 1").fetchall()
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con2:
        load_files(con2, AE_ISTV, [write(tmp_path / "csv", "istv-RHW01-2025-03.csv", csv_text)])
        assert con2.execute(f"SELECT {columns} FROM raw.ae_istv ORDER BY 1").fetchall() == got
    assert [r[3] for r in got] == ["01", "02"]
    # the same workbook again: nothing to do
    assert load_files(con, AE_ISTV, [f for _, f in discover_files(AE_ISTV, tmp_path / "xlsx")[0]])[0].outcome \
        == "unchanged"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "istv-RHW01-2025-04.xlsx").write_text("not a workbook")
    _, refused = discover_files(AE_ISTV, tmp_path / "bad")
    assert [r.rule for r in refused] == ["spreadsheet_readable"]
