"""Downloads from a local HTTP server on 127.0.0.1: a good file replaces the old one only after
its checks pass; a bad or missing file leaves the previous version untouched."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from conftest import write_mini_reference
from ingestion.downloads import DownloadFailed, DownloadSpec, fetch, read_config


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/served on an ephemeral loopback port; stops by itself after the test."""
    served = tmp_path / "served"
    write_mini_reference(served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def lookup_spec(base: str, path: str = "ons/LAD24_CSP24_PFA24_EW_LU.csv", min_rows: int = 2) -> DownloadSpec:
    return DownloadSpec(name="ons_lad_csp_pfa", url=f"{base}/{path}", target="ons/LAD_CSP_PFA_EW_LU.csv",
                        min_rows=min_rows)


def test_good_file_is_downloaded_checked_and_placed(server, tmp_path):
    served, base = server
    result = fetch(lookup_spec(base), tmp_path / "landing")
    assert result.replaced and result.rows == 2
    assert result.path.read_bytes() == (served / "ons/LAD24_CSP24_PFA24_EW_LU.csv").read_bytes()
    again = fetch(lookup_spec(base), tmp_path / "landing")
    assert not again.replaced and again.sha256 == result.sha256


def test_renamed_column_is_refused_and_previous_version_kept(server, tmp_path):
    served, base = server
    previous = fetch(lookup_spec(base), tmp_path / "landing").path.read_bytes()
    bad = served / "ons/LAD24_CSP24_PFA24_EW_LU.csv"
    bad.write_text(bad.read_text().replace("CSP24CD", "CSP_CODE"))
    with pytest.raises(DownloadFailed) as refused:
        fetch(lookup_spec(base), tmp_path / "landing")
    assert "refused, previous version kept" in str(refused.value)
    assert "'CSPYYCD'" in str(refused.value) and "'CSP_CODE'" in str(refused.value)
    target = tmp_path / "landing/ons/LAD_CSP_PFA_EW_LU.csv"
    assert target.read_bytes() == previous
    assert [p.name for p in target.parent.iterdir()] == [target.name]   # no partial file left


def test_bad_codes_and_too_few_rows_are_refused(server, tmp_path):
    served, base = server
    bad = served / "ons/LAD24_CSP24_PFA24_EW_LU.csv"
    bad.write_text(bad.read_text().replace("E23000029", "Thames Valley 1", 1))
    with pytest.raises(DownloadFailed, match="pfa_code_format"):
        fetch(lookup_spec(base), tmp_path / "landing")
    region = DownloadSpec(name="ons_lad_hierarchy", url=f"{base}/ons/LAD24_RGN24_EN_LU.csv",
                          target="ons/LAD_RGN_EN_LU.csv", min_rows=300)
    with pytest.raises(DownloadFailed, match="min_rows: 2 data rows, fewer than the 300 expected"):
        fetch(region, tmp_path / "landing")
    assert not (tmp_path / "landing/ons/LAD_CSP_PFA_EW_LU.csv").exists()


def test_missing_file_is_a_clear_error(server, tmp_path):
    _, base = server
    with pytest.raises(DownloadFailed, match=r"could not download .*404"):
        fetch(lookup_spec(base, "ons/nothing.csv"), tmp_path / "landing")


def test_population_download_is_checked_by_its_own_rules(server, tmp_path):
    _, base = server
    spec = DownloadSpec(name="ons_population_lsoa", url=f"{base}/population/sapelsoasyoa_mid2024.csv",
                        target="population/sapelsoasyoa_mid2024.csv", min_rows=4)
    assert fetch(spec, tmp_path / "landing").rows == 4


def test_lsoa_centroid_download_is_checked_as_wgs84(server, tmp_path):
    served, base = server
    spec = DownloadSpec(name="ons_lsoa21_centroid", url=f"{base}/ons/LSOA_PopCentroids_EW_2021_V4.csv",
                        target="ons/LSOA_PopCentroids_EW_2021.csv", min_rows=4)
    assert fetch(spec, tmp_path / "landing").rows == 4
    # the same layout in British National Grid metres would place every search at sea
    metres = served / "ons/LSOA_PopCentroids_EW_2021_V4.csv"
    metres.write_text("FID,LSOA21CD,GlobalID,x,y\n1,E01090001,{a},471000,173000\n")
    with pytest.raises(DownloadFailed, match="latitude_in_england_wales"):
        fetch(spec, tmp_path / "landing")


def test_shipped_config_names_known_datasets():
    from ingestion import sources

    reference = {s.name for s in sources.all_sources() if s.refresh == "reference"}
    loaded = {s.name for s in read_config() if s.kind != "arcgis_geojson"}   # boundaries: their own reader
    assert loaded <= reference
    # population: Nomis's small-area estimates, written in the ons_population_area layout
    assert loaded >= {"ons_lsoa21_lad", "ons_lad_csp_pfa", "ons_lad_hierarchy", "ons_lsoa21_msoa21",
                      "ons_lsoa11_lsoa21", "ons_lsoa21_centroid", "mhclg_imd2019_lsoa11", "ons_population_area"}
    assert all(s.url for s in read_config())                # every dataset has a real address


def make_archive(path, files):
    import zipfile

    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in files.items():
            zipped.writestr(name, text)


def test_police_archive_is_checked_then_unpacked(server, tmp_path):
    from conftest import MINI_LSOAS, STREET_HEADER, street_row
    from ingestion.downloads import fetch_police_archive

    served, base = server
    lsoa = MINI_LSOAS[0][:2]
    good = STREET_HEADER + "".join(street_row(n, "2025-01", lsoa, "Robbery") for n in range(3))
    make_archive(served / "2025-01.zip", {"2025-01/2025-01-thames-valley-street.csv": good,
                                          "2025-01/2025-01-thames-valley-outcomes.csv": "Crime ID\n"})
    folder, files = fetch_police_archive("2025-01", tmp_path / "landing", f"{base}/{{month}}.zip")
    assert files == 1
    assert (folder / "2025-01" / "2025-01-thames-valley-street.csv").read_text() == good

    bad = good.replace(",2025-01,", ",2025-13,", 1)
    make_archive(served / "2025-01.zip", {"2025-01/2025-01-thames-valley-street.csv": bad})
    with pytest.raises(DownloadFailed, match=(r"refused, nothing unpacked — 2025-01-thames-valley-street.csv, "
                                              r"row 1: rule 'month_format'")):
        fetch_police_archive("2025-01", tmp_path / "landing", f"{base}/{{month}}.zip")
    assert (folder / "2025-01" / "2025-01-thames-valley-street.csv").read_text() == good   # previous kept
    assert [p.name for p in (tmp_path / "landing" / "police").iterdir()] == ["2025-01"]    # no scratch left

    with pytest.raises(DownloadFailed, match=r"could not download .*404"):
        fetch_police_archive("2031-01", tmp_path / "landing", f"{base}/{{month}}.zip")
