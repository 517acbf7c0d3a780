"""Reference downloads against a loopback server that answers like ONS's ArcGIS FeatureServer:
row counts, pages of at most maxRecordCount rows in orderByFields order, where clauses, f=json
and f=geojson, and faults on demand (HTTP 500, an empty page, an `error` body, a renamed field).
Then `vru bootstrap` end to end into a private warehouse. Every expected count is worked out
here from the test's own geography, not read back from the code under test."""

from __future__ import annotations

import http.server
import json
import re
import threading
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

from ingestion.downloads import DownloadFailed, DownloadSpec, area_scope, fetch, read_config

ONS = "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services"


class Layer:
    """One FeatureServer layer: its fields, rows (attribute dicts) and, for a point or polygon
    layer, a geometry per row."""

    def __init__(self, fields, rows, max_records=1000, geometry=None):
        self.fields, self.rows, self.max_records, self.geometry = list(fields), rows, max_records, geometry


def _matches(where: str, row: dict) -> bool:
    for clause in re.split(r"\s+AND\s+", where, flags=re.I):
        clause = clause.strip()
        if clause.startswith("("):              # a wrapped clause: (A) AND (B)
            clause = clause[1:-1].strip()
        if clause == "1=1":
            continue
        found = re.fullmatch(r"(\w+)\s+IN\s+\((.*)\)", clause, re.I) or re.fullmatch(r"(\w+)\s*=\s*(.*)", clause)
        assert found, f"the fake cannot read the where clause {clause!r}"
        values = set(re.findall(r"'([^']*)'", found.group(2)))
        if row.get(found.group(1)) not in values:
            return False
    return True


class FakeNomis:
    """Nomis's CSV data API: one dataset's long rows (upper-case columns), answered for `select`
    in pages of RecordLimit rows capped at `limit` from RecordOffset, each row with the query's
    RECORD_COUNT; faults on demand per offset ("500", "empty": a header and no rows)."""

    def __init__(self):
        self.rows: list[dict] = []
        self.limit = 25_000
        self.renamed: dict[str, str] = {}          # a column Nomis heads differently now
        self.faults: dict[int, list[str]] = {}
        self.offsets: list[int] = []

    def answer(self, path: str, params: dict) -> tuple[int, bytes]:
        assert path.endswith("/api/v01/dataset/NM_2014_1.data.csv"), path
        assert {k: params[k] for k in ("geography", "date", "gender", "c_age", "measures")} == {
            "geography": "TYPE151", "date": "latest", "gender": "1,2", "c_age": "200,101...191", "measures": "20100"}
        offset = int(params.get("RecordOffset", 0))
        self.offsets.append(offset)
        fault = (self.faults.get(offset) or [None]).pop(0)
        if fault == "500":
            return 500, b"<html>Server Error</html>"
        columns = [c.upper() for c in params["select"].split(",")]
        size = min(int(params.get("RecordLimit", self.limit)), self.limit)
        page = [] if fault == "empty" else self.rows[offset:offset + size]
        lines = [",".join(f'"{self.renamed.get(c, c)}"' for c in columns)]
        lines += [",".join(f'"{len(self.rows) if c == "RECORD_COUNT" else r[c]}"' for c in columns) for r in page]
        return 200, ("\n".join(lines) + "\n").encode()


def nomis_count(lsoa: int, sex: str, age: int) -> int:
    """The test's own population: LSOA number × sex × single year of age."""
    return (lsoa * 7 + age * 3 + (1 if sex == "1" else 0)) % 23


def nomis_rows(codes: list[str]) -> list[dict]:
    """Long rows as Nomis orders them: area, then sex, then age code (all ages 200 first)."""
    rows = []
    for n, code in enumerate(codes):
        for sex in ("1", "2"):
            counts = [nomis_count(n, sex, age) for age in range(91)]
            for age_code, value in [("200", sum(counts))] + [(str(101 + a), c) for a, c in enumerate(counts)]:
                rows.append({"DATE": "2024", "GEOGRAPHY_CODE": code, "GEOGRAPHY_NAME": f"Area {code[-4:]}",
                             "GENDER": sex, "C_AGE": age_code, "OBS_VALUE": str(value)})
    return rows


class FakeArcGIS:
    def __init__(self):
        self.layers: dict[str, Layer] = {}
        self.files: dict[str, bytes] = {}          # path after the host, e.g. /media/x.csv
        self.faults: dict[tuple[str, int], list[str]] = {}
        self.requests: list[tuple[str, dict]] = []
        self.nomis = FakeNomis()

    def answer(self, path: str, params: dict) -> tuple[int, bytes]:
        if "/api/v01/dataset/" in path:
            return self.nomis.answer(path, params)
        found = re.search(r"/services/([^/]+)/FeatureServer/0/query$", path)
        if not found:
            key = re.sub(r"^/[^/]+", "", path)     # drop the mirrored host
            return (200, self.files[key]) if key in self.files else (404, b"not found")
        service = found.group(1)
        self.requests.append((service, params))
        layer = self.layers[service]
        rows = [r for r in layer.rows if _matches(params.get("where", "1=1"), r)]
        if params.get("returnCountOnly") == "true":
            return 200, json.dumps({"count": len(rows)}).encode()
        offset = int(params.get("resultOffset", 0))
        fault = (self.faults.get((service, offset)) or [None]).pop(0)
        if fault == "500":
            return 500, b"<html>Server Error</html>"
        if fault == "error":
            return 200, json.dumps({"error": {"code": 500, "message": "Error performing query operation"}}).encode()
        asked = params["outFields"].split(",")
        bad = [f for f in asked if f not in layer.fields]
        if bad:   # as ArcGIS Online answers an outFields it does not have
            return 200, json.dumps({"error": {"code": 400, "message": "Cannot perform query. Invalid query parameters.",
                                              "details": [f"Unable to perform query. Invalid field: {bad[0]}"]}}).encode()
        for name in reversed(params["orderByFields"].split(",")):
            rows = sorted(rows, key=lambda r, n=name: r[n])
        size = min(int(params["resultRecordCount"]), layer.max_records)
        page = [] if fault == "empty" else rows[offset:offset + size]
        more = offset + len(page) < len(rows)
        if params["f"] == "geojson":
            features = [{"type": "Feature", "id": i, "geometry": layer.geometry(r),
                         "properties": {f: r[f] for f in asked}} for i, r in enumerate(page, offset)]
            body = {"type": "FeatureCollection", "features": features}
            if more:
                body["properties"] = {"exceededTransferLimit": True}
        else:
            features = [{"attributes": {f: r[f] for f in asked}} for r in page]
            if params.get("returnGeometry") == "true" and layer.geometry:
                for feature, row in zip(features, page, strict=True):
                    feature["geometry"] = layer.geometry(row)
            body = {"fields": [{"name": f, "type": "esriFieldTypeString"} for f in asked], "features": features,
                    "exceededTransferLimit": more}
        return 200, json.dumps(body).encode()


@pytest.fixture
def arcgis(monkeypatch):
    """The fake on an ephemeral 127.0.0.1 port, as the mirror every download goes to."""
    fake = FakeArcGIS()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            status, body = fake.answer(url.path, {k: v[0] for k, v in parse_qs(url.query).items()})
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("VRU_DOWNLOAD_BASE", f"http://127.0.0.1:{httpd.server_address[1]}")
    monkeypatch.setenv("VRU_DOWNLOAD_BACKOFF_S", "0")
    yield fake
    httpd.shutdown()
    httpd.server_close()


def lsoa_lad_layer(n: int, lad_field: str = "LAD24CD") -> Layer:
    fields = ["LSOA21CD", "LSOA21NM", "WD24CD", "WD24NM", lad_field, "LAD24NM", "ObjectId"]
    rows = [{"LSOA21CD": f"E01{100000 + i:06d}", "LSOA21NM": f"Area {i:04d}", "WD24CD": "E05000001",
             "WD24NM": "Ward", lad_field: "E06000038", "LAD24NM": "Reading", "ObjectId": i} for i in range(n)]
    rows.reverse()                      # stored out of order: only orderByFields makes pages stable
    return Layer(fields, rows)


def lsoa_lad_spec(min_rows: int = 1) -> DownloadSpec:
    """The shipped declaration, with a minimum row count for this test's layer."""
    shipped = next(s for s in read_config() if s.name == "ons_lsoa21_lad")
    return DownloadSpec(**{**shipped.__dict__, "min_rows": min_rows})


def test_pages_until_every_counted_row_is_read(arcgis, tmp_path):
    arcgis.layers["LSOA21_WD24_LAD24_EW_LU"] = lsoa_lad_layer(2500)
    result = fetch(lsoa_lad_spec(2500), tmp_path)
    assert result.rows == 2500 and result.replaced
    lines = result.path.read_text().splitlines()
    assert lines[0] == "LSOA21CD,LSOA21NM,WD24CD,WD24NM,LAD24CD,LAD24NM"     # the loader's header
    assert [line.split(",")[0] for line in lines[1:]] == [f"E01{100000 + i:06d}" for i in range(2500)]
    pages = [int(p["resultOffset"]) for _, p in arcgis.requests if "resultOffset" in p]
    assert pages == [0, 1000, 2000]     # the last page short (500 rows): nothing asked after it


def test_server_page_limit_below_the_asked_size_still_reads_everything(arcgis, tmp_path):
    layer = lsoa_lad_layer(2500)
    layer.max_records = 600             # the layer answers fewer rows than asked for
    arcgis.layers["LSOA21_WD24_LAD24_EW_LU"] = layer
    assert fetch(lsoa_lad_spec(2500), tmp_path).rows == 2500
    pages = [int(p["resultOffset"]) for _, p in arcgis.requests if "resultOffset" in p]
    assert pages == [0, 600, 1200, 1800, 2400]


def test_failed_and_empty_pages_are_retried(arcgis, tmp_path):
    arcgis.layers["LSOA21_WD24_LAD24_EW_LU"] = lsoa_lad_layer(2500)
    clean = fetch(lsoa_lad_spec(), tmp_path / "clean").path.read_bytes()
    arcgis.requests.clear()
    arcgis.faults[("LSOA21_WD24_LAD24_EW_LU", 1000)] = ["500", "empty", "error"]
    arcgis.faults[("LSOA21_WD24_LAD24_EW_LU", 2000)] = ["empty"]
    result = fetch(lsoa_lad_spec(), tmp_path / "faulty")
    assert result.path.read_bytes() == clean
    pages = [int(p["resultOffset"]) for _, p in arcgis.requests if "resultOffset" in p]
    assert pages == [0, 1000, 1000, 1000, 1000, 2000, 2000]


def test_a_page_failing_every_time_changes_nothing(arcgis, tmp_path):
    arcgis.layers["LSOA21_WD24_LAD24_EW_LU"] = lsoa_lad_layer(2500)
    previous = fetch(lsoa_lad_spec(), tmp_path).path.read_bytes()
    arcgis.faults[("LSOA21_WD24_LAD24_EW_LU", 1000)] = ["500"] * 5
    with pytest.raises(DownloadFailed, match=r"LSOA21_WD24_LAD24_EW_LU: rows from 1,000 failed 5 times \(last: HTTP 500\)"):
        fetch(lsoa_lad_spec(), tmp_path)
    target = tmp_path / "ons/LSOA21_WD_LAD_EW_LU.csv"
    assert target.read_bytes() == previous
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_renamed_field_is_refused_by_name_and_previous_file_kept(arcgis, tmp_path):
    arcgis.layers["LSOA21_WD24_LAD24_EW_LU"] = lsoa_lad_layer(1200)
    previous = fetch(lsoa_lad_spec(), tmp_path).path.read_bytes()
    arcgis.layers["LSOA21_WD24_LAD24_EW_LU"] = lsoa_lad_layer(1300, lad_field="LAD25CD")   # next vintage
    with pytest.raises(DownloadFailed) as refused:
        fetch(lsoa_lad_spec(), tmp_path)
    assert "ons_lsoa21_lad: LSOA21_WD24_LAD24_EW_LU: the service has no field 'LAD24CD' any more" in str(refused.value)
    assert "update `fields`" in refused.value.hint
    target = tmp_path / "ons/LSOA21_WD_LAD_EW_LU.csv"
    assert target.read_bytes() == previous
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def polygon(row) -> dict:
    x, y = -1.0 + int(row["LSOA21CD"][-4:]) / 10000, 51.5
    return {"type": "Polygon", "coordinates": [[[x, y], [x + 0.001, y], [x, y + 0.001], [x, y]]]}


def test_boundaries_are_paged_as_one_geojson_collection(arcgis, tmp_path):
    rows = [{"LSOA21CD": f"W01{200000 + i:06d}", "LSOA21NM": f"Area {i}", "SHAPE_Area": 1.0} for i in range(2100)]
    arcgis.layers["Lower_layer_Super_Output_Areas_December_2021_Boundaries_EW_BGC_V5"] = Layer(
        ["LSOA21CD", "LSOA21NM", "SHAPE_Area"], rows, max_records=2000, geometry=polygon)
    spec = next(s for s in read_config() if s.name == "ons_lsoa21_boundary")
    with pytest.raises(DownloadFailed, match="min_rows: 2100 features, fewer than the 35000 expected"):
        fetch(spec, tmp_path)
    assert not (tmp_path / spec.target).exists()
    result = fetch(DownloadSpec(**{**spec.__dict__, "min_rows": 2100}), tmp_path)
    collection = json.loads(result.path.read_text())
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 2100
    assert [f["properties"]["LSOA21CD"] for f in collection["features"]] == [r["LSOA21CD"] for r in rows]
    assert all(p["f"] == "geojson" for _, p in arcgis.requests if "resultOffset" in p)
    # twice (refused, then accepted), each in pages of the 1,000 asked for, the last short
    assert [int(p["resultOffset"]) for _, p in arcgis.requests if "resultOffset" in p] == [0, 1000, 2000] * 2


# --- vru bootstrap, end to end -------------------------------------------------------------------

# Two police force areas: Thames Valley (3 districts) and a neighbour (2 districts); a Scottish
# district in the UK-wide ward lookup; LSOAs per district as below.
PFAS = {"E23000029": "Thames Valley", "E23000031": "Neighbour"}
LADS = [  # code, name, pfa, csp, LSOAs
    ("E06000038", "Reading", "E23000029", "E22000301", 3),
    ("E06000039", "Slough", "E23000029", "E22000302", 2),
    ("E06000060", "Buckinghamshire", "E23000029", "E22000303", 4),
    ("E07000207", "Elmbridge", "E23000031", "E22000304", 2),
    ("E07000208", "Epsom and Ewell", "E23000031", "E22000305", 2),
]
LSOAS = [(f"E0109{n:04d}", lad) for n, lad in enumerate((lad for lad, *_, k in LADS for _ in range(k)), 1)]


def serve_geography(fake: FakeArcGIS) -> None:
    names = {code: name for code, name, *_ in LADS}
    fake.layers["LAD24_CSP24_PFA24_EW_LU"] = Layer(
        ["LAD24CD", "LAD24NM", "CSP24CD", "CSP24NM", "PFA24CD", "PFA24NM", "FID"],
        [{"LAD24CD": c, "LAD24NM": n, "CSP24CD": csp, "CSP24NM": n, "PFA24CD": pfa, "PFA24NM": PFAS[pfa], "FID": i}
         for i, (c, n, pfa, csp, _) in enumerate(LADS)])
    fake.layers["LSOA21_WD24_LAD24_EW_LU"] = Layer(
        ["LSOA21CD", "LSOA21NM", "WD24CD", "WD24NM", "LAD24CD", "LAD24NM"],
        [{"LSOA21CD": code, "LSOA21NM": f"{names[lad]} {code[-3:]}", "WD24CD": f"E05{lad[-6:]}",
          "WD24NM": "Ward", "LAD24CD": lad, "LAD24NM": names[lad]} for code, lad in LSOAS])
    ward_fields = ["WD25CD", "WD25NM", "LAD25CD", "LAD25NM", "CTYUA25CD", "CTYUA25NM", "RGN25CD", "RGN25NM",
                   "CTRY25CD", "CTRY25NM"]
    wards = [dict(zip(ward_fields, (f"E05{c[-6:]}", "Ward", c, n, c, n, "E12000008", "South East",
                                    "E92000001", "England"), strict=True)) for c, n, *_ in LADS]
    wards.append(dict(zip(ward_fields, ("S13002516", "Ward", "S12000033", "Aberdeen City", "S12000033",
                                        "Aberdeen City", "", "", "S92000003", "Scotland"), strict=True)))
    fake.layers["WD25_LAD25_CTYUA25_RGN25_CTRY25_UK_LU"] = Layer(ward_fields, wards)
    fake.layers["OA_LSOA_MSOA_EW_DEC_2021_LU_v3"] = Layer(
        ["OA21CD", "LSOA21CD", "LSOA21NM", "LSOA21NMW", "MSOA21CD", "MSOA21NM", "MSOA21NMW"],
        [{"OA21CD": f"E009{code[-5:]}{k}", "LSOA21CD": code, "LSOA21NM": "x", "LSOA21NMW": "",
          "MSOA21CD": f"E0209{lad[-4:]}", "MSOA21NM": "m", "MSOA21NMW": ""} for code, lad in LSOAS for k in (1, 2)])
    fake.layers["LSOA11_LSOA21_LAD22_EW_LU_v5"] = Layer(
        ["LSOA11CD", "LSOA11NM", "CHGIND", "LSOA21CD", "LSOA21NM", "LAD22CD", "LAD22NM", "LAD22NMW"],
        [{"LSOA11CD": code.replace("E0109", "E0119"), "LSOA11NM": "old", "CHGIND": "U", "LSOA21CD": code,
          "LSOA21NM": "new", "LAD22CD": lad, "LAD22NM": names[lad], "LAD22NMW": ""} for code, lad in LSOAS])
    fake.layers["LSOA_PopCentroids_EW_2021_V4"] = Layer(
        ["FID", "LSOA21CD", "GlobalID"], [{"FID": i, "LSOA21CD": code, "GlobalID": "{x}"} for i, (code, _) in
                                          enumerate(LSOAS)],
        geometry=lambda row: {"x": -0.9 - int(row["LSOA21CD"][-2:]) / 100, "y": 51.45})
    fake.layers["Lower_layer_Super_Output_Areas_December_2021_Boundaries_EW_BGC_V5"] = Layer(
        ["LSOA21CD", "LSOA21NM"], [{"LSOA21CD": code, "LSOA21NM": "x"} for code, _ in LSOAS], geometry=polygon)
    imd = "/media/5dc407b440f0b6379a7acc8d/File_7_-_All_IoD2019_Scores__Ranks__Deciles_and_Population_Denominators_3.csv"
    fake.files[imd] = (
        "LSOA code (2011),LSOA name (2011),Index of Multiple Deprivation (IMD) Rank,"
        "Index of Multiple Deprivation (IMD) Decile\n"
        + "".join(f"{code.replace('E0109', 'E0119')},old,{n * 100},{n % 10 + 1}\n" for n, (code, _) in enumerate(LSOAS))
    ).encode()
    fake.nomis.rows = nomis_rows([code for code, _ in LSOAS])


@pytest.fixture
def bootstrap_env(arcgis, tmp_path, monkeypatch):
    """The fake serving a small geography; the shipped config; a private warehouse."""
    from ingestion.downloads import DEFAULT_CONFIG

    serve_geography(arcgis)
    config = DEFAULT_CONFIG.read_text()
    assert '\nurl = ""' not in config             # every dataset has a real address
    # whole-country files (IMD) are not narrowed to an area: this geography's are small
    config = config.replace("min_rows = 32000", "min_rows = 1")
    (tmp_path / "downloads.toml").write_text(config)
    monkeypatch.setenv("VRU_DOWNLOADS_CONFIG", str(tmp_path / "downloads.toml"))
    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    return arcgis, tmp_path / "warehouse"


def run_bootstrap(area: str, *options: str):
    from typer.testing import CliRunner

    from ingestion.cli import app

    result = CliRunner().invoke(app, ["bootstrap", area, *options])
    assert result.exit_code == 0, result.output
    return result.output


def raw_counts(warehouse) -> dict[str, int]:
    tables = {"lsoa_lad": "ons_lsoa21_lad", "lad_pfa": "ons_lad_csp_pfa", "hierarchy": "ons_lad_hierarchy",
              "oa": "ons_lsoa21_msoa21", "lsoa11": "ons_lsoa11_lsoa21", "centroid": "ons_lsoa21_centroid",
              "imd": "imd2019_lsoa11"}
    with duckdb.connect(str(warehouse / "vru.duckdb"), read_only=True) as con:
        counts = {k: con.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for k, t in tables.items()}
        counts["population_lsoas"] = con.execute(
            "SELECT count(DISTINCT area_code) FROM raw.ons_population_area WHERE geography = 'LSOA'").fetchone()[0]
        counts["boundary"] = con.execute("SELECT count(*) FROM raw.ons_lsoa21_boundary").fetchone()[0]
    return counts


def test_bootstrap_a_force_area_downloads_its_rows_and_loads_them(bootstrap_env):
    fake, warehouse = bootstrap_env
    tv_lads = [c for c, _, pfa, *_ in LADS if pfa == "E23000029"]
    tv_lsoas = [code for code, lad in LSOAS if lad in tv_lads]
    assert (len(tv_lads), len(tv_lsoas)) == (3, 9)
    output = run_bootstrap("thames-valley")
    assert "Loading thames-valley's reference data" in output
    assert raw_counts(warehouse) == {"lsoa_lad": 9, "lad_pfa": 3, "hierarchy": 3, "oa": 18, "lsoa11": 9,
                                     "centroid": 9, "imd": 13, "population_lsoas": 9, "boundary": 9}
    # the force's code and its districts narrowed the queries on the service itself
    wheres = {service: p["where"] for service, p in fake.requests if "resultOffset" in p}
    assert wheres["LAD24_CSP24_PFA24_EW_LU"] == "PFA24CD IN ('E23000029')"
    assert wheres["LSOA21_WD24_LAD24_EW_LU"] == "LAD24CD IN ('E06000038', 'E06000039', 'E06000060')"
    assert wheres["WD25_LAD25_CTYUA25_RGN25_CTRY25_UK_LU"] == (
        "(CTRY25CD IN ('E92000001', 'W92000004')) AND (LAD25CD IN ('E06000038', 'E06000039', 'E06000060'))")
    boundaries = json.loads((warehouse / "landing/boundaries/LSOA21_EW_BGC.geojson").read_text())
    assert sorted(f["properties"]["LSOA21CD"] for f in boundaries["features"]) == tv_lsoas
    assert area_scope("thames-valley").pfa_code == "E23000029"


def test_bootstrap_england_wales_takes_every_row(bootstrap_env, monkeypatch):
    _, warehouse = bootstrap_env
    # the shipped minimum row counts are national; this geography is small
    config = (warehouse.parent / "downloads.toml")
    config.write_text(re.sub(r"min_rows = \d+", "min_rows = 1", config.read_text()))
    run_bootstrap("england-wales")
    assert raw_counts(warehouse) == {"lsoa_lad": 13, "lad_pfa": 5, "hierarchy": 5, "oa": 26, "lsoa11": 13,
                                     "centroid": 13, "imd": 13, "population_lsoas": 13, "boundary": 13}


def test_bootstrap_unknown_area_is_refused():
    from typer.testing import CliRunner

    from ingestion.cli import app

    result = CliRunner().invoke(app, ["bootstrap", "atlantis"])
    assert result.exit_code == 1 and "unknown area 'atlantis'" in result.output


# --- Nomis: small-area population estimates ------------------------------------------------------

NOMIS_LSOAS = [f"E01{300000 + i:06d}" for i in range(327)]     # 327 × 2 sexes × 92 age codes = 60,168 rows


def population_spec(min_rows: int = 1) -> DownloadSpec:
    shipped = next(s for s in read_config() if s.name == "ons_population_area")
    return DownloadSpec(**{**shipped.__dict__, "min_rows": min_rows})


def test_nomis_is_paged_with_record_offset_and_loads_the_lsoa_totals(arcgis, tmp_path):
    from ingestion.sources import ons

    arcgis.nomis.rows = nomis_rows(NOMIS_LSOAS)
    assert len(arcgis.nomis.rows) == 60_168
    result = fetch(population_spec(654), tmp_path)
    assert result.rows == 654 and result.path.name == "nomis_lsoa21_population.csv"
    assert arcgis.nomis.offsets == [0, 25_000, 50_000]        # the last page short: nothing asked after it
    assert ons.spec_for_population(result.path) is ons.POPULATION_AREA
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ons.load_population(con, result.path)
        loaded = dict(con.execute("SELECT area_code, sum(population) FROM raw.ons_population_area "
                                  "WHERE geography = 'LSOA' AND year = 2024 GROUP BY 1").fetchall())
        ages = con.execute("SELECT min(age), max(age), count(DISTINCT sex) FROM raw.ons_population_area").fetchone()
    expected = {code: sum(nomis_count(n, sex, age) for sex in ("1", "2") for age in range(91))
                for n, code in enumerate(NOMIS_LSOAS)}
    assert loaded == expected and ages == (0, 90, 2)


def test_nomis_empty_and_failed_pages_are_retried(arcgis, tmp_path):
    arcgis.nomis.rows = nomis_rows(NOMIS_LSOAS)
    clean = fetch(population_spec(), tmp_path / "clean").path.read_bytes()
    arcgis.nomis.offsets.clear()
    arcgis.nomis.faults = {25_000: ["500", "empty"], 50_000: ["empty"]}
    assert fetch(population_spec(), tmp_path / "faulty").path.read_bytes() == clean
    assert arcgis.nomis.offsets == [0, 25_000, 25_000, 25_000, 50_000, 50_000]


def test_nomis_short_page_before_the_end_changes_nothing(arcgis, tmp_path):
    arcgis.nomis.rows = nomis_rows(NOMIS_LSOAS)
    previous = fetch(population_spec(), tmp_path).path.read_bytes()
    arcgis.nomis.limit = 20_000          # a server answering fewer rows than asked for, without saying so
    with pytest.raises(DownloadFailed, match=r"NM_2014_1: 20,000 of the 60,168 rows counted received"):
        fetch(population_spec(), tmp_path)
    assert (tmp_path / "population/nomis_lsoa21_population.csv").read_bytes() == previous


def test_nomis_renamed_column_is_refused_by_name_and_previous_file_kept(arcgis, tmp_path):
    arcgis.nomis.rows = nomis_rows(NOMIS_LSOAS[:10])
    previous = fetch(population_spec(), tmp_path).path.read_bytes()
    arcgis.nomis.rows = nomis_rows(NOMIS_LSOAS[:12])
    arcgis.nomis.renamed = {"OBS_VALUE": "OBSERVATION"}
    with pytest.raises(DownloadFailed) as refused:
        fetch(population_spec(), tmp_path)
    assert "ons_population_area: NM_2014_1: the answer has no column 'OBS_VALUE' any more" in str(refused.value)
    assert "update `fields`" in refused.value.hint
    target = tmp_path / "population/nomis_lsoa21_population.csv"
    assert target.read_bytes() == previous
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_bootstrap_with_police_months_loads_the_forces_street_crime(bootstrap_env, monkeypatch):
    import io
    import zipfile

    from conftest import STREET_HEADER, street_row

    fake, warehouse = bootstrap_env
    tv = [code for code, lad in LSOAS if lad in ("E06000038", "E06000039", "E06000060")]
    crimes = {"2025-01": 3, "2025-02": 4, "2025-03": 5, "2024-12": 7}      # 2024-12 is not asked for
    members = {}
    for month, n in crimes.items():
        for force in ("thames-valley", "surrey"):
            members[f"{month}/{month}-{force}-street.csv"] = STREET_HEADER + "".join(
                street_row(k, month, (tv[k % len(tv)], "x"), "Robbery") for k in range(n + (force == "surrey")))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, text in members.items():
            zipped.writestr(name, text)
    fake.files["/data/archive/2025-03.zip"] = archive.getvalue()
    monkeypatch.delenv("VRU_POLICE_ARCHIVE_URL", raising=False)   # the shipped address, through the mirror
    output = run_bootstrap("thames-valley", "--police-months", "2025-01:2025-03")
    assert "4 thames-valley street files checked and unpacked" in output
    assert sorted(p.name for p in (warehouse / "landing/police/2025-03").rglob("*.csv")) == [
        f"{m}-thames-valley-street.csv" for m in sorted(crimes)]
    with duckdb.connect(str(warehouse / "vru.duckdb"), read_only=True) as con:
        loaded = dict(con.execute("SELECT month, count(*) FROM raw.police_street GROUP BY 1").fetchall())
    assert {str(m)[:7]: n for m, n in loaded.items()} == {"2025-01": 3, "2025-02": 4, "2025-03": 5}
    assert raw_counts(warehouse)["population_lsoas"] == 9


def test_bootstrap_police_months_are_checked_before_anything(bootstrap_env):
    from typer.testing import CliRunner

    from ingestion.cli import app

    result = CliRunner().invoke(app, ["bootstrap", "thames-valley", "--police-months", "2025-03:2025-01"])
    assert result.exit_code == 1 and "FIRST not after LAST" in result.output
