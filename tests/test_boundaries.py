"""LSOA 2021 boundaries as a reference source, and stop-and-search points placed by them.

Real boundaries: ../shared/realdata/ons/boundaries_lsoa21/ (GeoJSON, WGS84, one file per district).
Every expected value here is worked out in the test from the real files with json and shapely
(or by brute-force distance), never read back from the project's own placement.
"""

from __future__ import annotations

import json
import shutil
from math import asin, cos, radians, sin, sqrt
from pathlib import Path

import duckdb
import pytest

from conftest import MINI_CENTROIDS, private_warehouse, write_mini_reference

shapely = pytest.importorskip("shapely")
from shapely.geometry import Point, shape  # noqa: E402

REAL_BOUNDARIES = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata" / "ons" / "boundaries_lsoa21"
needs_real = pytest.mark.skipif(not REAL_BOUNDARIES.is_dir(),
                                reason=f"real LSOA 2021 boundaries not found at {REAL_BOUNDARIES} (../shared absent)")
READING = "E06000038"        # the district whose boundaries the placement warehouse loads
CAP_KM = 15                  # stop_search_max_centroid_km


def haversine_km(a, b):
    (lat1, lon1), (lat2, lon2) = ((radians(p[0]), radians(p[1])) for p in (a, b))
    h = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * asin(sqrt(h))


def features(path: Path) -> dict[str, object]:
    return {f["properties"]["LSOA21CD"]: shape(f["geometry"]) for f in json.loads(path.read_text())["features"]}


@needs_real
def test_real_boundaries_load_every_feature_and_reload_changes_nothing(tmp_path):
    with private_warehouse(tmp_path):
        from ingestion.pipeline import ingest

        files = sorted(REAL_BOUNDARIES.glob("*.geojson"))
        expected = {f.name: len(json.loads(f.read_text())["features"]) for f in files}
        first = ingest("ons_lsoa21_boundary", REAL_BOUNDARIES)
        assert {r.file.name: r.rows_loaded for r in first.results} == expected
        assert {r.outcome for r in first.results} == {"loaded"}
        again = ingest("ons_lsoa21_boundary", REAL_BOUNDARIES)
        assert {r.outcome for r in again.results} == {"unchanged"}
        con = duckdb.connect(str(tmp_path / "warehouse" / "vru.duckdb"), read_only=True)
        try:
            per_file = dict(con.execute("SELECT _source_file, count(*) FROM raw.ons_lsoa21_boundary "
                                        "GROUP BY ALL").fetchall())
            assert per_file == expected
            assert con.execute("SELECT count(*) FROM raw.load_manifest WHERE outcome = 'loaded'").fetchone()[0] \
                == len(files)
            # the stored polygon is the delivered one: one LSOA compared with json + shapely
            code, wkb, sha = con.execute("SELECT lsoa21_code, geometry_wkb, geojson_sha256 FROM raw.ons_lsoa21_boundary "
                                         "WHERE _source_file = ? ORDER BY lsoa21_code LIMIT 1",
                                         [f"{READING}.geojson"]).fetchone()
        finally:
            con.close()
        assert shapely.equals_exact(shapely.from_wkb(wkb), features(REAL_BOUNDARIES / f"{READING}.geojson")[code], 0)
        import hashlib
        assert sha == hashlib.sha256((REAL_BOUNDARIES / f"{READING}.geojson").read_bytes()).hexdigest()


def test_malformed_geojson_is_refused_by_name_and_the_others_load(tmp_path):
    from ingestion.pipeline import DeliveriesRejected

    square = [[[-0.97, 51.45], [-0.96, 51.45], [-0.96, 51.46], [-0.97, 51.46], [-0.97, 51.45]]]
    bowtie = [[[-0.97, 51.45], [-0.96, 51.46], [-0.96, 51.45], [-0.97, 51.46], [-0.97, 51.45]]]

    def collection(*items):
        return json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"LSOA21CD": code}, "geometry": {"type": kind, "coordinates": coords}}
            for code, kind, coords in items]})

    folder = tmp_path / "boundaries"
    folder.mkdir()
    (folder / "good.geojson").write_text(collection(("E01090001", "Polygon", square)))
    (folder / "not_json.geojson").write_text('{"type": "FeatureCollection", "features": [')
    (folder / "no_code.geojson").write_text(collection(("E01090001", "Polygon", square), ("", "Polygon", square)))
    (folder / "self_crossing.geojson").write_text(collection(("E01090002", "Polygon", bowtie)))
    (folder / "a_point.geojson").write_text(collection(("E01090003", "Point", [-0.97, 51.45])))
    (folder / "grid_metres.geojson").write_text(collection(
        ("E01090004", "Polygon", [[[470000, 170000], [471000, 170000], [471000, 171000], [470000, 170000]]])))
    with private_warehouse(tmp_path):
        from ingestion.pipeline import ingest

        with pytest.raises(DeliveriesRejected) as refused:
            ingest("ons_lsoa21_boundary", folder)
        message = str(refused.value)
        for name, rule in [("not_json.geojson", "geojson_feature_collection"),
                           ("no_code.geojson, row 2", "lsoa21_code_format"),
                           ("self_crossing.geojson, row 1", "valid_polygon"),
                           ("a_point.geojson, row 1", "polygon_geometry"),
                           ("grid_metres.geojson, row 1", "wgs84_england_wales")]:
            assert f"{name}: rule '{rule}' failed" in message, message
        assert "Self-intersection" in message
        con = duckdb.connect(str(tmp_path / "warehouse" / "vru.duckdb"), read_only=True)
        try:
            assert con.execute("SELECT _source_file, lsoa21_code FROM raw.ons_lsoa21_boundary").fetchall() == [
                ("good.geojson", "E01090001")]
        finally:
            con.close()


def _pick_points(reading: dict[str, object]):
    """From the real Reading polygons, worked out here: two neighbouring LSOAs X and Y and a point
    P inside X, 30 m from their shared edge, with centroids for X and Y (their points on surface)
    such that Y's is nearer P than X's; and a Slough point Q and a point R far from everything."""
    codes = sorted(reading)
    for x in codes:
        for y in codes:
            if x == y or not reading[x].touches(reading[y]):
                continue
            edge = reading[x].intersection(reading[y])
            if edge.length == 0:
                continue
            middle = edge.interpolate(0.5, normalized=True)
            inward = reading[x].representative_point()
            dx, dy = inward.x - middle.x, inward.y - middle.y
            step = 0.0004 / max(sqrt(dx * dx + dy * dy), 1e-12)    # ~30 m towards X's inside
            p = Point(middle.x + dx * step, middle.y + dy * step)
            if sum(poly.contains(p) for poly in reading.values()) != 1 or not reading[x].contains(p):
                continue
            cx, cy = reading[x].representative_point(), reading[y].representative_point()
            d_x = haversine_km((p.y, p.x), (cx.y, cx.x))
            d_y = haversine_km((p.y, p.x), (cy.y, cy.x))
            if d_y < d_x - 0.05:
                return x, y, (round(p.y, 6), round(p.x, 6)), {x: (cx.y, cx.x), y: (cy.y, cy.x)}
    raise AssertionError("no neighbouring pair found")


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    if not REAL_BOUNDARIES.is_dir():
        pytest.skip(f"real LSOA 2021 boundaries not found at {REAL_BOUNDARIES} (../shared absent)")
    root = tmp_path_factory.mktemp("boundary_placement")
    reading = features(REAL_BOUNDARIES / f"{READING}.geojson")
    x, y, p, centroids = _pick_points(reading)
    q = (51.512, -0.603)                      # Slough, beside mini LSOA C's centroid; no Slough boundaries
    r = (51.80, -0.75)                        # beyond the cap from every centroid, in no Reading polygon
    all_centroids = {**MINI_CENTROIDS, **centroids}
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        with (landing / "ons" / "LSOA_PopCentroids_EW_2021_V4.csv").open("a") as out:   # X's and Y's centroids
            for i, (code, (lat, lon)) in enumerate(centroids.items(), 10):
                out.write(f"{i},{code},{{0000-{i}}},{lon},{lat}\n")
        (landing / "boundaries").mkdir()
        shutil.copy(REAL_BOUNDARIES / f"{READING}.geojson", landing / "boundaries")
        month = landing / "police" / "2025-01"
        month.mkdir(parents=True)
        (month / "2025-01-thames-valley-stop-and-search.csv").write_text(
            "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,Age range,"
            "Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,Outcome,"
            "Outcome linked to object of search,Removal of more than just outer clothing\n"
            + "".join(f"Person search,2025-01-06T10:00:00+00:00,False,,{lat},{lon},Male,18-24,,White,s1,"
                      "Offensive weapons,Arrest,False,False\n" for lat, lon in (p, q, r)))
        pipeline.load_reference(landing)
        pipeline.ingest("police_stop_search", month)
        run_dbt(["build", "--select", "+fct_stop_search_lsoa_month"])
        con = duckdb.connect(str(root / "warehouse" / "vru.duckdb"), read_only=True)
        try:
            rows = con.execute("""SELECT latitude, longitude, lsoa21_code, lsoa_placement
                                  FROM intermediate.int_police__stop_search_lsoa21""").fetchall()
            mart = con.execute("""SELECT lsoa21_code, searches, searches_placed_by_map_point, searches_placed_by_boundary
                                  FROM marts.fct_stop_search_lsoa_month ORDER BY lsoa21_code""").fetchall()
        finally:
            con.close()
    return {"x": x, "y": y, "p": p, "q": q, "r": r, "centroids": all_centroids, "reading": reading,
            "rows": {(lat, lon): (code, how) for lat, lon, code, how in rows}, "mart": mart}


def test_point_inside_a_polygon_goes_to_it_though_another_centroid_is_nearer(placed):
    x, y, p, reading = placed["x"], placed["y"], placed["p"], placed["reading"]
    # worked out independently: P lies in X's real polygon, and Y's centroid is nearer than X's
    assert reading[x].contains(Point(p[1], p[0]))
    nearest = min(placed["centroids"], key=lambda c: haversine_km(p, placed["centroids"][c]))
    assert nearest == y
    assert placed["rows"][p] == (x, "lsoa_boundary")


def test_point_without_loaded_boundaries_falls_back_to_the_nearest_centroid(placed):
    q = placed["q"]
    assert not any(poly.intersects(Point(q[1], q[0])) for poly in placed["reading"].values())
    distance, code = min((haversine_km(q, c), code) for code, c in placed["centroids"].items())
    assert code == "E01090003" and distance < CAP_KM
    assert placed["rows"][q] == ("E01090003", "nearest_centroid")


def test_point_outside_every_polygon_and_beyond_the_cap_stays_unplaced(placed):
    r = placed["r"]
    assert not any(poly.intersects(Point(r[1], r[0])) for poly in placed["reading"].values())
    assert min(haversine_km(r, c) for c in placed["centroids"].values()) > CAP_KM
    assert placed["rows"][r] == (None, None)


def test_mart_counts_searches_placed_by_boundary(placed):
    assert placed["mart"] == sorted([(placed["x"], 1, 0, 1), ("E01090003", 1, 0, 0)])
