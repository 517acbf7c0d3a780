"""DfE release downloads (ingestion/ees.py) from a local HTTP server on 127.0.0.1: an
explore-education-statistics "Download all data" zip lands in landing/dfe/<folder>/ only after
every data file in it passed its DfE source's rules; a refused download (HTTP error, timeout, a
corrupt zip, a file breaking a rule) leaves the previous folder byte-identical and nothing else
behind. The fixture releases are written here in the 2023/24 layout (SOURCES.md §2), so every
count is known by construction; one test takes the real 2006/07–2016/17 file when /work/shared
is there."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import shutil
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from conftest import SHARED_REALDATA
from ingestion.downloads import DownloadFailed, DownloadSpec, fetch, read_config

EES = "https://content.explore-education-statistics.service.gov.uk/api/releases/{id}/files"

# --- the fixture releases ------------------------------------------------------------------------

EXC_HEADER = ("time_identifier,time_period,geographic_level,country_code,country_name,region_code,region_name,"
              "old_la_code,new_la_code,la_name,education_phase,num_schools,headcount,perm_excl,perm_excl_rate,"
              "suspension,susp_rate,one_plus_susp,one_plus_susp_rate\n")
EXC_2324 = EXC_HEADER + (
    "Academic year,202324,National,E92000001,England,,,,,,Total,21366,8445343,10885,0.12889,954952,11.30744,341266,4.04088\n"
    "Academic year,202324,Regional,E92000001,England,E12000008,South East,,,,Total,3010,1390000,1650,0.11871,"
    "160210,11.52590,55001,3.95691\n"
    "Academic year,202324,Local authority,E92000001,England,E12000008,South East,870,E06000038,Reading,Total,"
    "58,26100,21,0.08046,2710,10.38314,951,3.64368\n"
    "Academic year,202324,Local authority,E92000001,England,E12000008,South East,870,E06000038,Reading,"
    "State-funded primary,39,14050,c,c,302,2.14947,low,z\n")
# the wide by-reason file: new_la_code before old_la_code, as published; c and x are symbols
REASON_HEADER = ("time_identifier,time_period,geographic_level,country_code,country_name,region_code,region_name,"
                 "new_la_code,old_la_code,la_name,education_phase,perm_physical_pupils,perm_physical_adult,"
                 "perm_offensive_weapon,susp_physical_pupils,susp_physical_adult,susp_offensive_weapon\n")
REASONS_2324 = REASON_HEADER + (
    "Academic year,202324,National,E92000001,England,,,,,,Total,1210,930,310,151200,70400,9120\n"
    "Academic year,202324,Local authority,E92000001,England,E12000008,South East,E06000038,870,Reading,Total,"
    "3,2,c,251,118,x\n")
# 2 rows × 3 reasons × 2 exclusion types, each cell given (a symbol too): 12 unpivoted rows, 10 numbers
REASON_ROWS, REASON_NUMBERS = 12, 10
# a file no DfE source reads (by pupil characteristic): in the zip, never landed
CHARACTERISTIC = ("time_identifier,time_period,geographic_level,country_code,country_name,characteristic_group,"
                  "characteristic,headcount,perm_excl,suspension\n"
                  "Academic year,202324,National,E92000001,England,Gender,Boys,4300000,8000,700000\n")
META = "col_name,col_type,label,indicator_grouping,indicator_unit,filter_hint,filter_grouping_column\n"


def release_2324() -> dict[str, str | bytes]:
    """The 2023/24 release as EES zips it: data/ with each file's .meta.csv, and the guidance."""
    return {"data/exc_nat_region_la.csv": EXC_2324, "data/exc_nat_region_la.meta.csv": META,
            "data/exc_reason_nat_region_la.csv": REASONS_2324, "data/exc_reason_nat_region_la.meta.csv": META,
            "data/exc_characteristics.csv": CHARACTERISTIC,
            "data-guidance/data-guidance.txt": "Suspensions and permanent exclusions in England, 2023/24\n"}


def release_2425() -> dict[str, str | bytes]:
    """The next release: its files named differently, nested one folder deeper, 2023/24 restated
    and 2024/25 added; no by-reason file (it is optional)."""
    rows = EXC_2324.splitlines(keepends=True)
    text = rows[0] + rows[1] + rows[3] + rows[1].replace(",202324,", ",202425,").replace("10885", "11102")
    return {"release/data/exc_2024-25_nat_la.csv": text, "release/data/exc_2024-25_nat_la.meta.csv": META}


EXC_ROWS_2324, EXC_ROWS_2425 = 4, 3


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, content in files.items():
            zipped.writestr(name, content)
    return buffer.getvalue()


# --- the loopback server -------------------------------------------------------------------------

class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the `served` folder; /status/<code> answers with that HTTP error, /stall/<file>
    sends half of the file and then nothing (until the test ends), /short/<file> announces more
    bytes than it sends and closes the connection."""

    stop: threading.Event

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/status/"):
            self.send_error(int(self.path.split("/")[2]))
            return
        for prefix in ("/stall/", "/short/"):
            if self.path.startswith(prefix):
                body = (Path(self.directory) / self.path[len(prefix):]).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body) + (0 if prefix == "/stall/" else 1000)))
                self.end_headers()
                if prefix == "/stall/":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.stop.wait(10)
                else:
                    self.wfile.write(body)
                return
        super().do_GET()



def serve(directory: Path):
    """A threaded HTTP server on an ephemeral loopback port serving `directory`; returns its base
    URL and a stop function."""
    stop = threading.Event()
    handler = functools.partial(type("H", (Handler,), {"stop": stop}), directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def shutdown():
        stop.set()
        httpd.shutdown()
        httpd.server_close()

    return f"http://127.0.0.1:{httpd.server_address[1]}", shutdown


@pytest.fixture
def server(tmp_path):
    """(served folder, base URL): the folder's files over HTTP, stopped after the test."""
    served = tmp_path / "served"
    served.mkdir()
    base, shutdown = serve(served)
    yield served, base
    shutdown()


def release_spec(url: str) -> DownloadSpec:
    return DownloadSpec(name="dfe_exclusions", url=url, target="dfe/exclusions", kind="ees_release_zip")


def snapshot(folder: Path) -> dict[str, str | None]:
    """Every path below `folder` (hidden ones too), with each file's sha256 (None: a folder)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def landed_once(tmp_path_factory):
    """The 2023/24 release downloaded (once per module) into a landing folder."""
    served = tmp_path_factory.mktemp("served")
    (served / "release.zip").write_bytes(zip_bytes(release_2324()))
    base, shutdown = serve(served)
    landing = tmp_path_factory.mktemp("landed") / "landing"
    try:
        fetch(release_spec(f"{base}/release.zip"), landing)
    finally:
        shutdown()
    return landing


@pytest.fixture
def landed(server, tmp_path, landed_once):
    """The 2023/24 release as downloaded, in this test's tmp_path/landing and served at
    <base>/release.zip: (served, base, landing, snapshot of the landing folder)."""
    served, base = server
    (served / "release.zip").write_bytes(zip_bytes(release_2324()))
    landing = shutil.copytree(landed_once, tmp_path / "landing", symlinks=True)
    return served, base, landing, snapshot(landing)


# --- a good release ------------------------------------------------------------------------------

def test_good_release_lands_checked_and_loads(server, tmp_path):
    from ingestion.pipeline import ingest
    from ingestion.settings import Settings

    served, base = server
    (served / "release.zip").write_bytes(zip_bytes(release_2324()))
    result = fetch(release_spec(f"{base}/release.zip"), tmp_path / "landing")
    folder = tmp_path / "landing/dfe/exclusions"
    assert result.replaced and result.path == folder
    assert result.rows == EXC_ROWS_2324 + 2
    # the routed data files at their paths in the zip; no .meta.csv, guidance or unused CSV
    assert sorted(snapshot(folder)) == ["data", "data/exc_nat_region_la.csv", "data/exc_reason_nat_region_la.csv"]
    assert (folder / "data/exc_nat_region_la.csv").read_text() == EXC_2324
    assert sorted(p.name for p in result.files) == ["exc_nat_region_la.csv", "exc_reason_nat_region_la.csv"]
    assert sorted(p.name for p in (tmp_path / "landing").iterdir()) == ["dfe"]      # no scratch left
    assert [p.name for p in (tmp_path / "landing/dfe").iterdir()] == ["exclusions"]

    settings = Settings(warehouse_dir=tmp_path / "wh")
    ingest("dfe-exclusions", folder, settings)
    ingest("dfe-exclusion-reasons", folder, settings)
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(perm_excl), count(perm_excl_status) "
                           "FROM raw.dfe_exclusions").fetchone() == (EXC_ROWS_2324, 3, 1)
        assert con.execute("SELECT count(*), count(exclusions) FROM raw.dfe_exclusion_reasons").fetchone() \
            == (REASON_ROWS, REASON_NUMBERS)


def test_same_release_again_changes_nothing(landed):
    served, base, landing, before = landed
    folder = landing / "dfe/exclusions"
    stamps = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in [folder, *folder.rglob("*")]}
    again = fetch(release_spec(f"{base}/release.zip"), landing)
    assert not again.replaced and again.rows == EXC_ROWS_2324 + 2
    assert snapshot(landing) == before
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in stamps} == stamps     # not even rewritten


def test_next_release_replaces_the_previous_one(landed):
    served, base, landing, before = landed
    (served / "release.zip").write_bytes(zip_bytes(release_2425()))
    result = fetch(release_spec(f"{base}/release.zip"), landing)
    assert result.replaced and result.rows == EXC_ROWS_2425
    assert snapshot(landing / "dfe/exclusions") == {
        "release": None, "release/data": None,
        "release/data/exc_2024-25_nat_la.csv": hashlib.sha256(
            release_2425()["release/data/exc_2024-25_nat_la.csv"].encode()).hexdigest()}
    assert sorted(p.name for p in landing.iterdir()) == ["dfe"]


# --- refused downloads leave the previous version exactly as it was -------------------------------

def replaced(name: str, old: str, new: str, count: int = 1):
    def change(files):
        files[name] = files[name].replace(old, new, count)
        return files
    return change


def without(*names: str):
    def change(files):
        return {k: v for k, v in files.items() if k not in names}
    return change


def added(name: str, content: str | bytes):
    def change(files):
        return files | {name: content}
    return change


@dataclasses.dataclass(frozen=True)
class ZipBytes:
    """A change to the served zip's bytes (not to the files in it)."""
    change: Callable[[bytes], bytes]


EXC, REASON = "data/exc_nat_region_la.csv", "data/exc_reason_nat_region_la.csv"

# (served path, change to the 2023/24 release or raw bytes, what the message says)
REFUSED = {
    "http_404": ("nothing/here.zip", None, r"could not download http://127\.0\.0\.1:\d+/nothing/here\.zip: HTTP 404"),
    "http_500": ("status/500", None, r"could not download .*/status/500: HTTP 500"),
    "timeout": ("stall/release.zip", None, r"could not download .*/stall/release\.zip: .*timed out"),
    "connection_closed_early": ("short/release.zip", None, r"could not download|truncated download"),
    "truncated_zip": ("release.zip", ZipBytes(lambda b: b[: len(b) // 2]),
                      r"refused, previous version kept — .*archive_readable"),
    "not_a_zip": ("release.zip", ZipBytes(lambda b: b"<html><body>Service unavailable</body></html>"),
                  r"archive_readable"),
    "missing_column": ("release.zip", replaced(EXC, ",perm_excl,", ",permanent,"),
                       r"exc_nat_region_la\.csv: rule 'required_columns' failed: missing column\(s\) '\(\?i\)perm_excl'"),
    # a 4-digit year: refused by time_period_format, or where the rule cannot even be evaluated on
    # it, as such (it casts a substring of the value; a file is never let through by an error)
    "time_period_2023": ("release.zip", replaced(EXC, ",202324,Local authority", ",2023,Local authority"),
                         (r"release\.zip refused, previous version kept — .*(exc_nat_region_la\.csv.*time_period_format"
                          r"|exc_nat_region_la\.csv: rule 'rules_evaluable' failed)")),
    "time_period_not_one_year": ("release.zip", replaced(EXC, ",202324,Regional", ",202325,Regional"),
                                 r"exc_nat_region_la\.csv, row 2: rule 'time_period_format' failed"),
    "bad_value_in_the_optional_reason_file": ("release.zip", replaced(REASON, ",3,2,c,", ",3,2,lots,"),
                                              (r"exc_reason_nat_region_la\.csv, row 2: rule "
                                               r"'perm_offensive_weapon_number_or_symbol'")),
    "header_only_exclusions_file": ("release.zip", lambda f: f | {EXC: EXC_HEADER}, r"exc_nat_region_la\.csv: rule"),
    "no_exclusions_file": ("release.zip", without(EXC), r"rule 'has_dfe_exclusions_file' failed"),
    "member_leaving_the_folder": ("release.zip", added("data/../../evil.csv", EXC_2324), r"archive_member_path"),
    "zip_bomb": ("release.zip", added("data/zeros.csv", b"0" * (4 << 20)), r"archive_compression_ratio"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_download_leaves_the_previous_version(landed, case, tmp_path):
    served, base, landing, before = landed
    path, change, message = REFUSED[case]
    if isinstance(change, ZipBytes):
        (served / "release.zip").write_bytes(change.change(zip_bytes(release_2324())))
    elif change is not None:
        (served / "release.zip").write_bytes(zip_bytes(change(release_2324())))
    with pytest.raises(DownloadFailed, match=message) as refused:
        fetch(release_spec(f"{base}/{path}"), landing, timeout_s=0.5)
    assert "previous version kept" in str(refused.value)
    assert snapshot(landing) == before                     # byte-identical, nothing added
    assert not (tmp_path / "evil.csv").exists() and not (landing / "evil.csv").exists()


def test_a_release_larger_than_the_limit_stops_downloading(landed, monkeypatch):
    from ingestion.sources import police_uk

    _, base, landing, before = landed
    monkeypatch.setattr(police_uk, "ARCHIVE_MAX_TOTAL_BYTES", 1000)
    with pytest.raises(DownloadFailed, match=r"more than 1,000 bytes .*download stopped"):
        fetch(release_spec(f"{base}/release.zip"), landing)
    assert snapshot(landing) == before


def test_release_folder_must_be_one_below_the_sources_folder(landed, tmp_path):
    _, base, landing, before = landed
    for target in ("dfe", "dfe/../ons", "ons/exclusions", "dfe/a/b"):
        spec = DownloadSpec(name="dfe_exclusions", url=f"{base}/release.zip", target=target, kind="ees_release_zip")
        with pytest.raises(DownloadFailed, match="must be one folder below dfe/"):
            fetch(spec, landing)
    (landing / "dfe/linked").symlink_to(tmp_path / "served", target_is_directory=True)
    with pytest.raises(DownloadFailed, match="is a link or not a folder"):
        fetch(dataclasses.replace(release_spec(f"{base}/release.zip"), target="dfe/linked"), landing)
    assert sorted(p.name for p in (tmp_path / "served").iterdir()) == ["release.zip"]   # nothing written there
    (landing / "dfe/linked").unlink()
    assert snapshot(landing) == before


# --- configuration -------------------------------------------------------------------------------

def test_shipped_config_declares_the_release_for_vru_download_only():
    releases = [s for s in read_config(releases=True) if s.kind == "ees_release_zip"]
    assert [(s.name, s.target) for s in releases] == [("dfe_exclusions", "dfe/exclusions")]
    assert releases[0].url.startswith("https://content.explore-education-statistics.service.gov.uk/api/releases/")
    assert releases[0].url.endswith("/files")
    assert not [s for s in read_config() if s.kind == "ees_release_zip"]     # vru bootstrap: reference only


def test_config_refuses_a_release_entry_it_cannot_place(tmp_path):
    for name, target, message in [("ons_lsoa21_lad", "dfe/x", "not a DfE source"),
                                  ("dfe_exclusions", "dfe", "one folder below dfe/")]:
        config = tmp_path / "downloads.toml"
        config.write_text(f'[[download]]\nname = "{name}"\nkind = "ees_release_zip"\nurl = "https://x/files"\n'
                          f'target = "{target}"\n')
        with pytest.raises(DownloadFailed, match=message):
            read_config(config, releases=True)


def test_mirror_and_override_addresses(server, tmp_path, monkeypatch):
    served, base = server
    mirrored = served / "content.explore-education-statistics.service.gov.uk/api/releases/abc-123"
    mirrored.mkdir(parents=True)
    (mirrored / "files").write_bytes(zip_bytes(release_2324()))
    monkeypatch.setenv("VRU_DOWNLOAD_BASE", base)
    monkeypatch.delenv("VRU_DFE_RELEASE_URL", raising=False)
    assert fetch(release_spec(EES.format(id="abc-123")), tmp_path / "landing").rows == EXC_ROWS_2324 + 2
    # the override is used as it is (not through the mirror) and wins over the configured address
    (served / "next.zip").write_bytes(zip_bytes(release_2425()))
    monkeypatch.setenv("VRU_DFE_RELEASE_URL", f"{base}/next.zip")
    assert fetch(release_spec(EES.format(id="abc-123")), tmp_path / "landing").rows == EXC_ROWS_2425


def test_vru_download_fetches_the_release(server, tmp_path):
    from typer.testing import CliRunner

    from ingestion.cli import app

    served, base = server
    (served / "release.zip").write_bytes(zip_bytes(release_2324()))
    config = tmp_path / "downloads.toml"
    config.write_text(f'[[download]]\nname = "dfe_exclusions"\nkind = "ees_release_zip"\nurl = "{base}/release.zip"\n'
                      'target = "dfe/exclusions"\n')
    args = ["download", "--config", str(config), "--landing", str(tmp_path / "landing")]
    first, second = CliRunner().invoke(app, args), CliRunner().invoke(app, args)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "dfe_exclusions: 6 rows, replaced" in first.output
    assert "dfe_exclusions: 6 rows, unchanged" in second.output
    (served / "release.zip").write_bytes(zip_bytes(replaced(EXC, ",202324,Regional", ",202325,Regional")(release_2324())))
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and "time_period_format" in refused.output


def test_the_configured_release_is_what_the_yearly_dag_fetches(server, tmp_path):
    from ingestion.ees import fetch_configured_release

    served, base = server
    (served / "release.zip").write_bytes(zip_bytes(release_2324()))
    config = tmp_path / "downloads.toml"
    config.write_text(f'[[download]]\nname = "dfe_exclusions"\nkind = "ees_release_zip"\nurl = "{base}/release.zip"\n'
                      'target = "dfe/exclusions"\n')
    result = fetch_configured_release(tmp_path / "landing", config=config)
    assert result.replaced and result.rows == EXC_ROWS_2324 + 2
    assert (tmp_path / "landing/dfe/exclusions/data/exc_nat_region_la.csv").read_text() == EXC_2324
    with pytest.raises(DownloadFailed, match="no release 'dfe_other'"):
        fetch_configured_release(tmp_path / "landing", name="dfe_other", config=config)


# --- the real file -------------------------------------------------------------------------------

REAL_ZIP = SHARED_REALDATA / "dfe" / "exclusions_by_geographic_level.zip"


@pytest.mark.skipif(not REAL_ZIP.exists(), reason=f"real DfE release zip not available ({REAL_ZIP}: "
                                                   "/work/shared is reached as ../shared from the repo root)")
def test_real_release_zip_lands(tmp_path):
    base, shutdown = serve(REAL_ZIP.parent)        # served read-only, where it is
    try:
        result = fetch(release_spec(f"{base}/{REAL_ZIP.name}"), tmp_path / "landing")
    finally:
        shutdown()
    # 2006/07–2016/17, every geographic level in one file (its .meta.csv not landed)
    assert result.rows == 242_170
    assert [p.name for p in result.files] == ["exclusions_by_geographic_level.csv"]
    assert sorted(snapshot(tmp_path / "landing")) == ["dfe", "dfe/exclusions",
                                                      "dfe/exclusions/exclusions_by_geographic_level.csv"]
