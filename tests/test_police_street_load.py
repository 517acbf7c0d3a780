"""Loading police.uk street files: exact counts, idempotent re-runs, refusals that keep earlier loads."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from conftest import MINI_LSOAS, SHARED_REALDATA, STREET_HEADER, street_row
from ingestion.load import FileRejected
from ingestion.sources.police_uk import load_street_file

VIOLENCE, ASB, ROBBERY = "Violence and sexual offences", "Anti-social behaviour", "Robbery"
A, B = MINI_LSOAS[0][:2], MINI_LSOAS[1][:2]


def write_street(folder: Path, month: str, spec: list[tuple[tuple | None, str, int]]) -> Path:
    """spec: (lsoa or None, crime type, how many rows)."""
    rows, n = [], 0
    for lsoa, crime_type, count in spec:
        for _ in range(count):
            n += 1
            rows.append(street_row(n, month, lsoa, crime_type))
    path = folder / month / f"{month}-thames-valley-street.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STREET_HEADER + "".join(rows))
    return path


def table_digest(con, table: str) -> tuple[int, str]:
    rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_rows_land_with_load_metadata_and_row_numbers(tmp_path, con):
    path = write_street(tmp_path, "2025-01", [(A, VIOLENCE, 2), (None, ASB, 1)])
    result = load_street_file(con, path)
    assert (result.outcome, result.rows_read, result.rows_loaded) == ("loaded", 3, 3)
    rows = con.execute("""SELECT _row_number, crime_id IS NULL, lsoa_code, location, month,
                                 _source_file, m.source_sha256, _load_id
                          FROM raw.police_street JOIN raw.load_manifest AS m ON m.load_id = _load_id
                          ORDER BY _row_number""").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][2:5] == ("E01090001", "On or near Parking Area, Broad Street", __import__("datetime").date(2025, 1, 1))
    assert rows[2][1] is True and rows[2][2] is None          # ASB without a Crime ID or an LSOA kept
    assert {r[5] for r in rows} == {"2025-01-thames-valley-street.csv"}
    assert {r[6] for r in rows} == {hashlib.sha256(path.read_bytes()).hexdigest()}
    assert {r[7] for r in rows} == {result.load_id}


def test_a_raw_table_made_with_the_retired_digest_column_loads_on_and_keeps_its_rows(tmp_path, con):
    """Raw rows once carried their file's sha256 (now the manifest's, by load id): a warehouse made
    then has the column dropped when the loader next runs, and its earlier rows stay."""
    january = load_street_file(con, write_street(tmp_path, "2025-01", [(A, VIOLENCE, 2)]))
    con.execute("ALTER TABLE raw.police_street ADD COLUMN _source_sha256 VARCHAR DEFAULT 'digest'")
    february = load_street_file(con, write_street(tmp_path, "2025-02", [(B, ROBBERY, 3)]))
    assert "_source_sha256" not in [r[0] for r in con.execute("DESCRIBE raw.police_street").fetchall()]
    assert con.execute("SELECT _load_id, count(*) FROM raw.police_street GROUP BY ALL ORDER BY 2").fetchall() == [
        (january.load_id, 2), (february.load_id, 3)]


def test_rerunning_the_same_month_changes_nothing(tmp_path, con):
    path = write_street(tmp_path, "2025-01", [(A, VIOLENCE, 5), (B, ROBBERY, 2)])
    load_street_file(con, path)
    before = table_digest(con, "raw.police_street"), table_digest(con, "raw.load_manifest")
    again = load_street_file(con, path)
    assert again.outcome == "unchanged"
    assert (table_digest(con, "raw.police_street"), table_digest(con, "raw.load_manifest")) == before


def test_redelivered_month_replaces_never_doubles(tmp_path, con):
    load_street_file(con, write_street(tmp_path, "2025-01", [(A, VIOLENCE, 5)]))
    load_street_file(con, write_street(tmp_path, "2025-01", [(A, VIOLENCE, 7)]))
    assert con.execute("SELECT count(*) FROM raw.police_street").fetchone()[0] == 7
    outcomes = con.execute("SELECT outcome FROM raw.load_manifest ORDER BY started_at").fetchall()
    assert outcomes == [("superseded",), ("loaded",)]


def test_malformed_file_is_rejected_naming_file_row_and_rule_and_earlier_load_stays(tmp_path, con):
    good = write_street(tmp_path, "2025-01", [(A, VIOLENCE, 4)])
    load_street_file(con, good)
    before = table_digest(con, "raw.police_street")

    lines = good.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(",2025-01,", ",2025-13,")      # data row 3 has an impossible month
    good.write_text("".join(lines))
    with pytest.raises(FileRejected) as rejected:
        load_street_file(con, good)
    message = str(rejected.value)
    assert "2025-01-thames-valley-street.csv" in message
    assert "row 3" in message and "month_format" in message
    assert table_digest(con, "raw.police_street") == before
    assert con.execute("SELECT outcome, message LIKE '%row 3%' FROM raw.load_manifest "
                       "ORDER BY started_at").fetchall() == [("loaded", False), ("rejected", True)]


def test_row_with_too_many_fields_is_rejected_with_its_row(tmp_path, con):
    path = write_street(tmp_path, "2025-02", [(A, VIOLENCE, 5)])
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = lines[4].rstrip("\n") + ",surplus\n"              # data row 4
    path.write_text("".join(lines))
    with pytest.raises(FileRejected) as rejected:
        load_street_file(con, path)
    assert rejected.value.rule == "csv_structure" and rejected.value.row == 4
    assert "Expected Number of Columns: 12 Found: 13" in str(rejected.value)


def test_renamed_column_is_refused_naming_it(tmp_path, con):
    path = write_street(tmp_path, "2025-03", [(A, VIOLENCE, 1)])
    path.write_text(path.read_text().replace("LSOA code", "LSOA Code", 1))
    with pytest.raises(FileRejected) as rejected:
        load_street_file(con, path)
    assert "'LSOA code'" in str(rejected.value) and "'LSOA Code'" in str(rejected.value)


def test_unknown_crime_type_row_is_quarantined_not_dropped(tmp_path, con):
    path = write_street(tmp_path, "2025-04", [(A, VIOLENCE, 3), (A, "Jaywalking", 1)])
    result = load_street_file(con, path)
    assert (result.rows_loaded, result.rows_quarantined) == (3, 1)
    assert con.execute("SELECT _row_number, rule FROM quarantine.rejected_row").fetchall() == [
        (4, "crime_type_known")]


def test_byte_order_mark_is_handled(tmp_path, con):
    path = write_street(tmp_path, "2025-05", [(A, VIOLENCE, 2)])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_street_file(con, path).rows_loaded == 2


@pytest.mark.skipif(not (SHARED_REALDATA / "police").is_dir(),
                    reason="../shared/realdata is absent (a user's clone has no shared folder)")
def test_real_police_uk_files_load_with_exact_counts(con):
    """Each real sample file: counts per LSOA × crime type × month equal a csv-module count."""
    files = sorted((SHARED_REALDATA / "police").glob("*/*-street.csv"))
    assert files
    for path in files:
        load_street_file(con, path)
        with open(path, newline="", encoding="utf-8-sig") as handle:
            records = list(csv.DictReader(handle))
        expected = Counter((r["LSOA code"] or None, r["Crime type"], r["Month"]) for r in records)
        with_id = [tuple(r.values()) for r in records if r["Crime ID"]]
        duplicates = len(with_id) - len(set(with_id))
        assert con.execute("SELECT rows_duplicate FROM raw.load_manifest WHERE source_file = ?",
                           [path.name]).fetchone()[0] == duplicates, path.name
        got = con.execute("""SELECT lsoa_code, crime_type, strftime(month, '%Y-%m'), count(*)
                             FROM raw.police_street WHERE _source_file = ? GROUP BY ALL""",
                          [path.name]).fetchall()
        assert {(lsoa, c, m): n for lsoa, c, m, n in got} == dict(expected), path.name


def test_downloaded_zip_archive_with_many_forces_loads_street_files(tmp_path, con):
    import zipfile

    from ingestion.pipeline import ingest_police_street
    from ingestion.settings import Settings

    jan = write_street(tmp_path / "src", "2025-01", [(A, VIOLENCE, 2)])
    other_force = jan.with_name("2025-01-city-of-london-street.csv")
    other_force.write_text(jan.read_text().replace("Thames Valley Police", "City of London Police"))
    archive = tmp_path / "police-archive.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(jan, "2025-01/" + jan.name)
        zipped.write(other_force, "2025-01/" + other_force.name)
        zipped.writestr("2025-01/2025-01-thames-valley-outcomes.csv",
                        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
                        "Outcome type\n" + "1" * 64 + ",2025-01,TVP,TVP,-0.97,51.45,On or near X,E01090001,"
                        "Reading 001A,Suspect charged\n")
        zipped.writestr("2025-01/2025-01-thames-valley-stop-and-search.csv",
                        "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
                        "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,"
                        "Outcome,Outcome linked to object of search,Removal of more than just outer clothing\n"
                        "Person search,2025-01-05T10:00:00+00:00,False,,,,Male,18-24,,White,"
                        "Misuse of Drugs Act 1971 (section 23),Controlled drugs,Arrest,True,False\n")
    report = ingest_police_street(archive, Settings(warehouse_dir=tmp_path / "warehouse"))
    assert sorted((r.source, r.file.name, r.rows_loaded) for r in report.results) == [
        ("police_outcomes", "2025-01-thames-valley-outcomes.csv", 1),
        ("police_stop_search", "2025-01-thames-valley-stop-and-search.csv", 1),
        ("police_street", "2025-01-city-of-london-street.csv", 2),
        ("police_street", "2025-01-thames-valley-street.csv", 2)]


REAL_STOP_SEARCH = SHARED_REALDATA / "police" / "2016-11" / "2016-11-city-of-london-stop-and-search.csv"


@pytest.mark.skipif(not REAL_STOP_SEARCH.exists(), reason="../shared/realdata is absent (a user's clone has no shared folder)")
def test_real_stop_and_search_file_loads_with_exact_counts(con):
    from ingestion.sources.police_uk import load_stop_search_file

    assert load_stop_search_file(con, REAL_STOP_SEARCH).rows_loaded == 117
    with open(REAL_STOP_SEARCH, newline="", encoding="utf-8-sig") as handle:
        expected = Counter((r["Object of search"], r["Outcome"]) for r in csv.DictReader(handle))
    got = con.execute("""SELECT object_of_search, outcome, count(*) FROM raw.police_stop_search
                         WHERE force = 'city-of-london' AND month(searched_at) = 11 GROUP BY ALL""").fetchall()
    assert {(o, r): n for o, r, n in got} == dict(expected)


def test_stop_and_search_outside_its_month_is_refused(tmp_path, con):
    from ingestion.sources.police_uk import load_stop_search_file

    path = tmp_path / "2025-01-thames-valley-stop-and-search.csv"
    path.write_text("Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
                    "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,"
                    "Outcome,Outcome linked to object of search,Removal of more than just outer clothing\n"
                    "Person search,2025-01-05T10:00:00+00:00,False,,51.45,-0.97,Male,18-24,,White,"
                    "Misuse of Drugs Act 1971 (section 23),Controlled drugs,Arrest,True,False\n"
                    "Person search,2025-02-01T10:00:00+00:00,False,,,,Male,25-34,,White,"
                    "Police and Criminal Evidence Act 1984 (section 1),Offensive weapons,A no further action disposal,,False\n")
    with pytest.raises(FileRejected, match="row 2: rule 'date_in_file_month'"):
        load_stop_search_file(con, path)


def test_many_files_load_as_one_batch_each_file_with_its_own_rows_and_outcome(tmp_path, con):
    """Files of a batch share one read: row numbers, counts, duplicates and refusals stay per file,
    and a refused file (bad row, malformed CSV) never stops the others."""
    from ingestion.load import load_files
    from ingestion.sources.police_uk import POLICE_STREET

    jan = write_street(tmp_path, "2025-01", [(A, VIOLENCE, 3), (None, ASB, 2)])
    lines = jan.read_text().splitlines(keepends=True)
    jan.write_text("".join(lines + [lines[1], lines[1]]))       # row 1 repeated twice: 2 duplicates
    feb = write_street(tmp_path, "2025-02", [(B, ROBBERY, 4), (A, "Jaywalking", 1)])
    mar = write_street(tmp_path, "2025-03", [(A, VIOLENCE, 6)])
    lines = mar.read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace(",2025-03,", ",2025-02,")      # data row 5 names another month
    mar.write_text("".join(lines))
    apr = write_street(tmp_path, "2025-04", [(A, VIOLENCE, 3)])
    lines = apr.read_text().splitlines(keepends=True)
    lines[2] = lines[2].rstrip("\n") + ",surplus\n"             # data row 2 has a field too many
    apr.write_text("".join(lines))
    may = write_street(tmp_path, "2025-05", [(B, VIOLENCE, 2)])
    may.write_text(may.read_text().replace(",Context\n", "\n", 1).replace(",\n", "\n"))  # older layout

    jun = write_street(tmp_path, "2025-06", [(B, VIOLENCE, 1)])
    lines = jun.read_text().splitlines(keepends=True)
    blank_id = "  " + lines[1][lines[1].index(","):]
    jun.write_text("".join(lines + [blank_id, blank_id]))   # a blank Crime ID is no id: never a repeat

    # one read for jan–mar (the same header), another for may; a malformed file makes its
    # batch fall back to file by file, so jun still loads beside apr
    results = load_files(con, POLICE_STREET, [jan, feb, mar, may]) + load_files(con, POLICE_STREET, [apr, jun])
    got = {r.file.name[:7]: (r.outcome, r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate)
           for r in results}
    assert got == {"2025-01": ("loaded", 7, 7, 0, 2), "2025-02": ("loaded", 5, 4, 1, 0),
                   "2025-03": ("rejected", 0, 0, 0, 0), "2025-04": ("rejected", 0, 0, 0, 0),
                   "2025-05": ("loaded", 2, 2, 0, 0), "2025-06": ("loaded", 3, 3, 0, 0)}
    refused = {r.file.name[:7]: r.rejection for r in results if r.rejection}
    assert (refused["2025-03"].rule, refused["2025-03"].row) == ("month_matches_file_name", 5)
    assert (refused["2025-04"].rule, refused["2025-04"].row) == ("csv_structure", 2)
    # each file's rows are numbered from 1 in file order, whatever else was read with it
    numbers = con.execute("""SELECT _source_file, list(_row_number ORDER BY _row_number)
                             FROM raw.police_street GROUP BY ALL ORDER BY 1""").fetchall()
    assert [n for _, n in numbers] == [[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4], [1, 2], [1, 2, 3]]
    assert con.execute("SELECT _source_file, _row_number, rule FROM quarantine.rejected_row").fetchall() == [
        ("2025-02-thames-valley-street.csv", 5, "crime_type_known")]
    assert con.execute("SELECT count(*) FROM raw.police_street WHERE context IS NOT NULL").fetchone()[0] == 0
    # the two refusals are in the manifest with their reason; loading again changes nothing
    assert con.execute("SELECT count(*) FROM raw.load_manifest WHERE outcome = 'rejected'").fetchone()[0] == 2
    before = table_digest(con, "raw.police_street")
    again = load_files(con, POLICE_STREET, [jan, feb, may])
    assert [r.outcome for r in again] == ["unchanged"] * 3 and table_digest(con, "raw.police_street") == before
