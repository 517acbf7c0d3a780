"""Hostile and broken input, and a machine that runs out of room: nothing is read, written or
deleted outside the landing folder; archives are judged from their central directory before
anything is unpacked; a file DuckDB's reader cannot take is refused by name while the others
load; a mapping's pattern cannot hang the loader; a full disk or exhausted memory is reported as
what it is, leaves the file unjudged and the warehouse as it was; messages quote files literally."""

from __future__ import annotations

import errno
import functools
import hashlib
import http.server
import json
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import duckdb
import pytest

from conftest import MINI_LSOAS, STREET_HEADER, street_row
from ingestion.downloads import DownloadFailed, fetch_police_archive
from ingestion.errors import VruError
from ingestion.load import FileRejected, ResourceExhausted, load_files
from ingestion.sources import police_uk
from ingestion.sources.police_uk import POLICE_STREET, unpack_archive

A = MINI_LSOAS[0][:2]
STREET = "2025-01/2025-01-thames-valley-street.csv"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def street_text(month: str = "2025-01", rows: int = 3) -> str:
    return STREET_HEADER + "".join(street_row(n, month, A, "Robbery") for n in range(1, rows + 1))


def write_zip(path: Path, files: dict, compresslevel: int | None = None) -> Path:
    """files: name → text, or name → ZipInfo-ready (ZipInfo, bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zipped:
        for name, content in files.items():
            if isinstance(content, tuple):
                zipped.writestr(*content)
            else:
                zipped.writestr(name, content)
    return path


def symlink_member(name: str, points_to: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, points_to.encode()


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def digest(con, table: str) -> tuple[int, str]:
    rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """128 MiB of zeros in a ~0.6 MB archive (ratio ~220), under a street file's name."""
    path = tmp_path_factory.mktemp("bomb") / "2025-01.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zipped:
        with zipped.open(STREET, "w") as member:
            block = b"\0" * (1 << 20)
            for _ in range(128):
                member.write(block)
    return path


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/served on an ephemeral loopback port."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/{{month}}.zip"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


# 1. the archive month and the folders a download may touch ------------------------------------

@pytest.mark.parametrize("month", ["../../x", "2025-13", "2025-00", "2025-1", "25-01", "2025-01/..", "2025-01 ",
                                   "\u0662\u0660\u0662\u0665-01", ""])
def test_download_month_must_be_yyyy_mm_before_anything_is_touched(tmp_path, month):
    landing = tmp_path / "landing"
    with pytest.raises(DownloadFailed, match=r"rule 'month_format': the month must be YYYY-MM") as refused:
        fetch_police_archive(month, landing, "http://127.0.0.1:9/{month}.zip")
    assert refused.value.hint.startswith("give the month as YYYY-MM")
    assert isinstance(refused.value, VruError)
    assert list(tmp_path.iterdir()) == []          # not even landing/police was created


def test_download_police_cli_refuses_a_path_as_month(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ingestion.cli import app

    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    done = CliRunner().invoke(app, ["download-police", "../../x", "--url", "http://127.0.0.1:9/{month}.zip"])
    assert done.exit_code == 1 and "month_format" in done.output and "Traceback" not in done.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("member, rule", [
    ("/tmp/escape/2025-01-thames-valley-street.csv", "archive_member_path"),
    ("../2025-01-thames-valley-street.csv", "archive_member_path"),
    ("2025-01/../../2025-01-thames-valley-street.csv", "archive_member_path"),
    ("C:/escape/2025-01-thames-valley-street.csv", "archive_member_path"),
    ("symlink", "archive_member_symlink"),
])
def test_archive_members_outside_the_folder_are_refused(server, tmp_path, member, rule):
    served, url = server
    files = {STREET: street_text()}
    if member == "symlink":
        files["2025-01/2025-01-city-of-london-street.csv"] = symlink_member(
            "2025-01/2025-01-city-of-london-street.csv", str(tmp_path / "outside.csv"))
    else:
        files[member] = street_text()
    write_zip(served / "2025-01.zip", files)
    landing = tmp_path / "landing"
    with pytest.raises(DownloadFailed, match=f"refused, nothing unpacked — 2025-01.zip: rule '{rule}'"):
        fetch_police_archive("2025-01", landing, url)
    assert tree(landing) == ["police"]                       # scratch folder gone, nothing unpacked
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landing", "served"]
    assert not Path("/tmp/escape").exists()

    # the same archive given to `vru ingest police-street x.zip`: refused, nothing beside it
    local = write_zip(tmp_path / "in" / "2025-01.zip", files)
    with pytest.raises(FileRejected) as refused:
        unpack_archive(local)
    assert refused.value.rule == rule
    assert tree(tmp_path / "in") == ["2025-01.zip"]


def test_download_target_that_resolves_outside_landing_police_is_refused(server, tmp_path):
    served, url = server
    write_zip(served / "2025-01.zip", {STREET: street_text()})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    police = tmp_path / "landing" / "police"
    police.mkdir(parents=True)
    (police / "2025-01").symlink_to(outside, target_is_directory=True)
    with pytest.raises(DownloadFailed, match="outside"):
        fetch_police_archive("2025-01", tmp_path / "landing", url)
    assert (police / "2025-01").is_symlink() and tree(outside) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "mine"


def test_ingest_refuses_to_unpack_through_a_link_beside_the_archive(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = write_zip(tmp_path / "in" / "2025-01.zip", {STREET: street_text()})
    (tmp_path / "in" / "2025-01").symlink_to(outside, target_is_directory=True)
    with pytest.raises(FileRejected) as refused:
        unpack_archive(archive)
    assert refused.value.rule == "archive_target"
    assert tree(outside) == []


# 2. archive limits, from the central directory, before anything is unpacked ------------------

def test_zip_bomb_is_refused_by_its_ratio_and_nothing_is_unpacked(server, tmp_path, zip_bomb):
    served, url = server
    (served / "2025-01.zip").write_bytes(zip_bomb.read_bytes())
    with pytest.raises(DownloadFailed, match=r"2025-01.zip: rule 'archive_compression_ratio' failed: member "
                                             r"'2025-01/2025-01-thames-valley-street.csv' declares 134,217,728 bytes"):
        fetch_police_archive("2025-01", tmp_path / "landing", url)
    assert tree(tmp_path / "landing") == ["police"]

    local = tmp_path / "in" / "2025-01.zip"
    local.parent.mkdir()
    local.write_bytes(zip_bomb.read_bytes())
    with pytest.raises(FileRejected) as refused:
        unpack_archive(local)
    assert refused.value.rule == "archive_compression_ratio" and "a zip bomb is not unpacked" in str(refused.value)
    assert tree(local.parent) == ["2025-01.zip"]


def test_archive_total_size_and_member_count_limits(tmp_path, monkeypatch):
    archive = write_zip(tmp_path / "a" / "2025-01.zip",
                        {f"2025-01/2025-01-force-{c}-street.csv": street_text() for c in "abcde"})
    monkeypatch.setattr(police_uk, "ARCHIVE_MAX_TOTAL_BYTES", 1000)
    with pytest.raises(FileRejected) as refused:
        unpack_archive(archive)
    assert refused.value.rule == "archive_total_size" and "more than the limit of 1,000" in str(refused.value)
    monkeypatch.undo()
    monkeypatch.setattr(police_uk, "ARCHIVE_MAX_MEMBERS", 4)
    with pytest.raises(FileRejected) as refused:
        unpack_archive(archive)
    assert refused.value.rule == "archive_member_count" and "declares 5 members" in str(refused.value)
    assert tree(archive.parent) == ["2025-01.zip"]
    monkeypatch.undo()
    assert len(list(unpack_archive(archive).rglob("*-street.csv"))) == 5     # within the limits it unpacks


def test_member_unpacking_to_more_than_it_declares_is_stopped(tmp_path):
    archive = write_zip(tmp_path / "a" / "2025-01.zip", {STREET: street_text(rows=50)})
    data = bytearray(archive.read_bytes())
    info = zipfile.ZipFile(archive).infolist()[0]
    lie = (100).to_bytes(4, "little")
    local = info.header_offset
    data[local + 22:local + 26] = lie                      # uncompressed size in the local header
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = lie                  # and in the central directory
    archive.write_bytes(bytes(data))
    assert zipfile.ZipFile(archive).infolist()[0].file_size == 100
    with pytest.raises(FileRejected) as refused:
        unpack_archive(archive)
    assert refused.value.rule in ("archive_member_size", "archive_readable")
    assert tree(archive.parent) == ["2025-01.zip"]


@pytest.mark.parametrize("content, rule", [
    (None, "archive_has_files"),                        # a valid zip with no members
    (b"PK\x03\x04 this is not really a zip", "archive_readable"),
    (b"", "archive_readable"),
])
def test_empty_or_corrupt_zip_is_refused_by_name_through_the_cli(tmp_path, monkeypatch, content, rule):
    from typer.testing import CliRunner

    from ingestion.cli import app

    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    archive = tmp_path / "x.zip"
    if content is None:
        zipfile.ZipFile(archive, "w").close()
    else:
        archive.write_bytes(content)
    with pytest.raises(FileRejected) as refused:
        unpack_archive(archive)
    assert refused.value.rule == rule
    done = CliRunner().invoke(app, ["ingest", "police-street", str(archive)], terminal_width=200)
    assert done.exit_code == 1, done.output
    assert f"x.zip: rule '{rule}' failed" in done.output and "Traceback" not in done.output
    assert isinstance(done.exception, SystemExit)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("warehouse")) == ["x.zip"]


# 3. files beyond the CSV readers' own limits ---------------------------------------------------

def test_file_beyond_the_csv_readers_limits_is_refused_by_name_and_the_others_load(tmp_path, con):
    folder = tmp_path / "police" / "2025-01"
    folder.mkdir(parents=True)
    good = folder / "2025-01-thames-valley-street.csv"
    good.write_text(street_text())
    long_field = folder / "2025-01-city-of-london-street.csv"       # a 2.1 MB Location: DuckDB's max_line_size
    long_field.write_text(street_text().replace("On or near Parking Area, Broad Street", "x" * 2_100_000, 1))
    wide_header = folder / "2025-01-kent-street.csv"               # a header field past Python csv's field limit
    wide_header.write_text(STREET_HEADER.replace("Context", "Context" + "y" * 200_000) + street_row(1, "2025-01", A, "Robbery"))
    long_header = folder / "2025-01-essex-street.csv"               # a header line past the reader's line limit
    long_header.write_text(STREET_HEADER.rstrip("\n") + ",z" * 1_100_000 + "\n" + street_row(1, "2025-01", A, "Robbery"))
    results = load_files(con, POLICE_STREET, [good, long_field, wide_header, long_header])
    outcome = {r.file.name: (r.outcome, r.rejection.rule if r.rejection else None) for r in results}
    assert outcome == {good.name: ("loaded", None),
                       long_field.name: ("rejected", "csv_reader_limits"),
                       wide_header.name: ("rejected", "csv_reader_limits"),
                       long_header.name: ("rejected", "csv_reader_limits")}
    by_name = {r.file.name: r for r in results}
    assert by_name[long_field.name].rejection.row == 1 and "max_line_size" in by_name[long_field.name].message
    assert all(len(r.message) < 3000 for r in results)              # DuckDB's quote of the line is not kept
    assert con.execute("SELECT count(*) FROM raw.police_street").fetchone()[0] == 3
    assert con.execute("SELECT source_file, outcome FROM raw.load_manifest ORDER BY source_file").fetchall() == sorted(
        (name, o) for name, (o, _) in outcome.items())


# 4. a mapping's file pattern cannot hang the loader --------------------------------------------

HANG_MAPPING = r"""
force = "thames-valley"
file_pattern = '(a+)+b\.csv'
[columns]
crime_reference = "Ref"
recorded_date = "Date"
offence_code = "Code"
offence_description = "Offence"
knife_or_sharp_instrument = "Knife"
victim_age = "Age"
lsoa_code = "LSOA"
"""

HANG_SCRIPT = r"""
import json, sys, time
from pathlib import Path
import duckdb
from ingestion.load import load_files
from ingestion.sources.force_crime import extract_files, read_mapping, spec_for
folder = Path(sys.argv[1])
started = time.monotonic()
paired, refused = extract_files(folder)
results = load_files(duckdb.connect(), spec_for(read_mapping(folder / "tvp.toml")), [folder / sys.argv[2]])
print(json.dumps({"seconds": time.monotonic() - started, "paired": len(paired),
                  "refused": [r.rule for r in refused], "loaded": [r.rejection.rule for r in results]}))
"""


def test_pathological_mapping_pattern_cannot_hang_the_loader(tmp_path):
    # `(a+)+b` against 'aaa…a' takes Python's backtracking re 2^n steps (n=200: forever); RE2 is linear
    folder = tmp_path / "force_crime"
    folder.mkdir()
    (folder / "tvp.toml").write_text(HANG_MAPPING)
    name = "a" * 200 + ".csv"
    (folder / name).write_text("Ref,Date,Code,Offence,Knife,Age,LSOA\n")
    done = subprocess.run([sys.executable, "-c", HANG_SCRIPT, str(folder), name], check=False, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["paired"] == 0 and report["refused"] == ["column_mapping"] and report["loaded"] == ["file_name"]
    assert report["seconds"] < 10      # a safety net only: RE2 matches in linear time


@pytest.mark.parametrize("pattern", [r"(?=TVP)TVP_(?P<month>\d{4}-\d{2})\.csv", r"(TVP)_\1\.csv"])
def test_pattern_re2_cannot_run_is_refused_naming_the_key(tmp_path, pattern):
    from ingestion.sources.force_crime import MappingInvalid, read_mapping

    mapping = tmp_path / "tvp.toml"
    mapping.write_text(HANG_MAPPING.replace(r"(a+)+b\.csv", pattern))
    with pytest.raises(MappingInvalid, match=r"mapping key 'file_pattern': not a pattern RE2 accepts"):
        read_mapping(mapping)


# 5. running out of disk, temp space or memory --------------------------------------------------

class FaultyConnection:
    """A DuckDB connection that raises `fault` on the first statement containing `when`."""

    def __init__(self, con, when: str, fault: BaseException):
        self._con, self._when, self._fault = con, when, fault

    def execute(self, sql, *args, **kwargs):
        if self._fault is not None and self._when in sql:
            fault, self._fault = self._fault, None
            raise fault
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _two_months(tmp_path, con):
    jan = tmp_path / "2025-01" / "2025-01-thames-valley-street.csv"
    jan.parent.mkdir()
    jan.write_text(street_text("2025-01", 4))
    assert load_files(con, POLICE_STREET, [jan])[0].outcome == "loaded"
    feb = tmp_path / "2025-02" / "2025-02-thames-valley-street.csv"
    feb.parent.mkdir()
    feb.write_text(street_text("2025-02", 5))
    return jan, feb


def _manifest(con):
    return con.execute("SELECT source_file, outcome FROM raw.load_manifest ORDER BY source_file, outcome").fetchall()


ENOSPC_DUCKDB = duckdb.IOException('IO Error: Could not write file "/w/vru.duckdb.wal": No space left on device')


@pytest.mark.parametrize("when, fault, what", [
    ("read_csv(", ENOSPC_DUCKDB, "disk space"),                        # staging spills to disk
    ("read_csv(", duckdb.OutOfMemoryException(
        "Out of Memory Error: failed to offload data block of size 256.0 KiB (1.0 MiB/1.0 MiB used). "
        "This limit was set by the 'max_temp_directory_size' setting."), "temporary disk space"),
    ("INSERT INTO raw.police_street", ENOSPC_DUCKDB, "disk space"),    # inside the write transaction
    ("INSERT INTO raw.police_street", OSError(errno.ENOSPC, "No space left on device"), "disk space"),
    ("INSERT INTO raw.load_manifest", duckdb.OutOfMemoryException("Out of Memory Error: could not allocate"), "memory"),
])
def test_resource_fault_is_reported_as_such_leaving_file_unjudged_and_warehouse_unchanged(tmp_path, con, when,
                                                                                          fault, what):
    jan, feb = _two_months(tmp_path, con)
    # a re-delivered January (its old rows deleted first inside the transaction) and a new February
    jan.write_text(street_text("2025-01", 6))
    before, manifest = digest(con, "raw.police_street"), _manifest(con)
    with pytest.raises(ResourceExhausted) as exhausted:
        load_files(FaultyConnection(con, when, fault), POLICE_STREET, [jan, feb])
    assert f"ran out of {what}" in str(exhausted.value) and "not judged" in str(exhausted.value)
    assert exhausted.value.hint.startswith("free disk space")
    assert digest(con, "raw.police_street") == before                 # rolled back: January's old rows kept
    assert _manifest(con) == manifest                                  # nothing rejected, nothing recorded
    assert con.execute("SELECT count(*) FROM quarantine.rejected_row").fetchone()[0] == 0
    # the same load again, with room, simply works
    assert [r.outcome for r in load_files(con, POLICE_STREET, [jan, feb])] == ["loaded", "loaded"]
    assert _manifest(con) == [(jan.name, "loaded"), (jan.name, "superseded"), (feb.name, "loaded")]
    assert con.execute("SELECT count(*) FROM raw.police_street").fetchone()[0] == 11


def test_real_out_of_memory_in_duckdb_leaves_the_file_unjudged(tmp_path, con):
    jan, feb = _two_months(tmp_path, con)
    feb.write_text(street_text("2025-02", 20_000))                     # a few MB
    before, manifest = digest(con, "raw.police_street"), _manifest(con)
    con.execute(f"SET temp_directory = '{tmp_path / 'duckdb_tmp'}'")
    con.execute("SET memory_limit = '2MB'")
    with pytest.raises(ResourceExhausted, match=r"ran out of (memory|temporary disk space)"):
        load_files(con, POLICE_STREET, [feb])
    con.execute("RESET memory_limit")
    assert digest(con, "raw.police_street") == before and _manifest(con) == manifest
    assert load_files(con, POLICE_STREET, [feb])[0].rows_loaded == 20_000


def test_a_parse_error_is_still_a_rejection_not_a_resource_fault(tmp_path, con):
    _, feb = _two_months(tmp_path, con)
    feb.write_text(street_text("2025-02").replace(",Robbery,", ",Robbery,,extra,", 1))
    assert load_files(con, POLICE_STREET, [feb])[0].rejection.rule == "csv_structure"
    assert (feb.name, "rejected") in _manifest(con)


# 6. messages quote files literally -------------------------------------------------------------

def test_messages_quote_file_text_literally_with_control_characters_escaped(tmp_path, con):
    path = tmp_path / "2025-01" / "2025-01-thames-valley-street.csv"
    path.parent.mkdir()
    path.write_text(street_text().replace("LSOA code", "[bold red]LSOA[/] \x1b[2J code", 1))
    rejection = load_files(con, POLICE_STREET, [path])[0].rejection
    assert rejection.rule == "required_columns"
    assert "[bold red]LSOA[/] \\x1b[2J code" in str(rejection)       # markup-like text kept as text
    assert "\x1b" not in str(rejection)                               # a file cannot drive the terminal
    stored = con.execute("SELECT message FROM raw.load_manifest").fetchone()[0]
    assert stored == str(rejection)
    # a file's name is text from outside too
    named = tmp_path / "2025-01" / "2025-01-thames\x1b[2J-street.csv"
    named.write_text(street_text())
    rejection = load_files(con, POLICE_STREET, [named])[0].rejection
    assert rejection.rule == "file_name" and "\x1b" not in str(rejection)
    assert str(rejection).startswith("2025-01-thames\\x1b[2J-street.csv: rule 'file_name' failed")


def test_cli_prints_a_rejection_with_brackets_literally(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ingestion.cli import app

    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    path = tmp_path / "2025-01" / "2025-01-thames-valley-street.csv"
    path.parent.mkdir()
    path.write_text(street_text().replace("LSOA code", "[bold]LSOA[/bold] code", 1))
    done = CliRunner().invoke(app, ["ingest", "police-street", str(path)], terminal_width=300)
    assert done.exit_code == 1
    assert "'[bold]LSOA[/bold] code'" in done.output
