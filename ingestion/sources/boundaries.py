"""ONS LSOA 2021 boundaries (GeoJSON FeatureCollections in WGS84, as `vru download` writes
`boundaries/LSOA21_EW_BGC.geojson`, or one file per district): one raw row per LSOA with its
polygon as WKB, used to place stop-and-search points in LSOAs (int_police__stop_search_boundary).

The generic loader reads CSV, so each GeoJSON file is first read here (json and shapely) into a
CSV rendering beside the warehouse (`<warehouse>/staged/lsoa21_boundaries/<sha256>/<file name>`,
under the delivered file's own name), which the loader then checks and loads like any other
delivery: same manifest, same replace-by-file-name, and an unchanged file (same name, same
rendering) is skipped. The rendering keeps the delivered file's sha256 in `geojson_sha256`.
A file that is not a FeatureCollection is refused by name here; everything row by row (a feature
without an LSOA 2021 code, a geometry that is not a valid polygon or lies outside England and
Wales in degrees) by the declared rules, naming the feature (row = feature number).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import uuid
from pathlib import Path

from ingestion.codes import AREA_LEVELS
from ingestion.load import MAX_LINE_BYTES, Column, FileRejected, Rule, SourceSpec, sha256_of, shown

FILE_PATTERN = r".*\.(geojson|json)"
# the CSV rendering's header: the loader's declared columns read these names
_HEADER = ("LSOA21CD", "LSOA21NM", "geometry_type", "geometry_wkb_hex", "geometry_problem",
           "min_longitude", "min_latitude", "max_longitude", "max_latitude", "geojson_sha256")
_CRS84 = {"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "EPSG:4326",
          "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG:6.6:4326"}


def _select(spec: SourceSpec, attrs: dict[str, str], staged: list[str]) -> str:
    return """
        SELECT trim(lsoa21_code) AS lsoa21_code, NULLIF(trim(lsoa21_name), '') AS lsoa21_name,
               geometry_type, from_hex(geometry_wkb) AS geometry_wkb, geojson_sha256,
               _row_number, _file_index
        FROM _staged"""


LSOA21_BOUNDARY = SourceSpec(
    name="ons_lsoa21_boundary",
    raw_table="raw.ons_lsoa21_boundary",
    description="LSOA 2021 boundaries as GeoJSON (WGS84 FeatureCollections of Polygon/MultiPolygon features "
                "with LSOA21CD; one national file or one per district)",
    file_pattern=FILE_PATTERN,
    columns=(
        Column("LSOA21CD", "lsoa21_code", area_level="lsoa", not_null=True),
        Column("LSOA21NM", "lsoa21_name", required=False),
        Column("geometry_type", "geometry_type"),
        Column("geometry_wkb_hex", "geometry_wkb", "BLOB"),
        Column("geometry_problem", "geometry_problem", stored=False),
        Column("min_longitude", "min_longitude", stored=False), Column("min_latitude", "min_latitude", stored=False),
        Column("max_longitude", "max_longitude", stored=False), Column("max_latitude", "max_latitude", stored=False),
        Column("geojson_sha256", "geojson_sha256"),
    ),
    rules=(
        Rule("lsoa21_code_format", AREA_LEVELS["lsoa"].code_rule_sql("lsoa21_code"),
             f"every feature needs an LSOA 2021 code in its LSOA21CD property ({AREA_LEVELS['lsoa'].code_pattern})"),
        Rule("polygon_geometry", "geometry_type IN ('Polygon', 'MultiPolygon')",
             "every feature's geometry must be a Polygon or MultiPolygon"),
        Rule("valid_polygon", "coalesce(geometry_problem, '') = ''",
             "every polygon must be valid (closed rings, no self-intersection; shapely's reason is given)"),
        Rule("wgs84_england_wales",
             "TRY_CAST(min_longitude AS DOUBLE) >= -7 AND TRY_CAST(max_longitude AS DOUBLE) <= 2.5 "
             "AND TRY_CAST(min_latitude AS DOUBLE) >= 49.5 AND TRY_CAST(max_latitude AS DOUBLE) <= 56",
             "coordinates must be WGS84 longitude, latitude in England and Wales (not British National Grid metres)"),
    ),
    unique_key=("lsoa21_code",),
    # one file per district, or one national file: a re-delivered file replaces its own rows;
    # where files overlap, staging keeps each LSOA's most recent load
    replace_scope="file",
    refresh="reference", area_level="lsoa",
    select_sql=_select,
)


def staged_root() -> Path:
    from ingestion.settings import get_settings

    return get_settings().warehouse_dir / "staged" / "lsoa21_boundaries"


def _refuse_structure(path: Path, detail: str) -> FileRejected:
    return FileRejected(path, "geojson_feature_collection", detail)


def _rows(path: Path, sha: str) -> list[list[object]]:
    """The CSV rendering's rows of a GeoJSON file, one per feature in file order. A file that is
    not a GeoJSON FeatureCollection in WGS84 raises FileRejected naming the rule."""
    import numpy as np
    import shapely

    try:
        with open(path, encoding="utf-8-sig") as handle:
            document = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _refuse_structure(path, f"the file is not JSON: {error}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" \
            or not isinstance(document.get("features"), list):
        raise _refuse_structure(path, "the file must be a GeoJSON FeatureCollection with a list of features")
    crs = ((document.get("crs") or {}).get("properties") or {}).get("name")
    if crs and crs not in _CRS84:
        raise FileRejected(path, "wgs84_england_wales", f"the file's crs is {shown(crs, 80)!r}: boundaries must "
                           "be in WGS84 longitude, latitude (export with EPSG:4326)")
    features = document["features"]
    if not features:
        raise FileRejected(path, "has_rows", "the FeatureCollection has no features")
    codes, names, types, geometries = [], [], [], []
    for feature in features:
        feature = feature if isinstance(feature, dict) else {}
        properties = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        geometry = feature.get("geometry") if isinstance(feature.get("geometry"), dict) else {}
        codes.append(str(properties.get("LSOA21CD") or ""))
        names.append(str(properties.get("LSOA21NM") or ""))
        types.append(str(geometry.get("type") or ""))
        geometries.append(json.dumps(geometry) if types[-1] in ("Polygon", "MultiPolygon") else None)
    parsed = shapely.from_geojson(np.array(geometries, dtype=object), on_invalid="ignore")
    present = shapely.is_geometry(parsed)
    valid = shapely.is_valid(parsed)
    reasons = shapely.is_valid_reason(parsed)
    empty = shapely.is_empty(parsed)
    bounds = shapely.bounds(parsed)
    wkb = shapely.to_wkb(parsed, hex=True)
    rows = []
    for i in range(len(features)):
        problem = None
        if geometries[i] is not None and not present[i]:
            problem = "unreadable geometry (coordinates are not a GeoJSON polygon)"
        elif present[i] and (empty[i] or not valid[i]):
            problem = "empty geometry" if empty[i] else str(reasons[i])
        if present[i] and len(wkb[i]) > MAX_LINE_BYTES // 2:
            problem = f"the polygon has {shapely.get_num_coordinates(parsed[i]):,} points, more than the loader takes"
        rows.append([codes[i], names[i], types[i], wkb[i] if present[i] and problem is None else "", problem or "",
                     *(repr(float(b)) if present[i] and not empty[i] else "" for b in bounds[i]), sha])
    return rows


def render(path: Path) -> Path:
    """The delivered GeoJSON file as the CSV the loader reads (written once per file content)."""
    sha = sha256_of(path)
    target = staged_root() / sha / path.name
    if target.exists():
        return target
    rows = _rows(path, sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    with open(partial, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(_HEADER)
        writer.writerows(rows)
    os.replace(partial, target)
    return target


def discover(path: Path, month: str | None = None) -> tuple[list[tuple[SourceSpec, Path]], list[FileRejected]]:
    """Each GeoJSON file at `path` (a file, or every *.geojson / *.json below a folder) as its CSV
    rendering; files that are not a GeoJSON FeatureCollection are refused by name, the others load."""
    from ingestion.load import delivered_files

    pairs, refused = [], []
    for file in delivered_files(LSOA21_BOUNDARY, path):
        try:
            pairs.append((LSOA21_BOUNDARY, render(file)))
        except FileRejected as rejection:
            refused.append(rejection)
    return pairs, refused


LSOA21_BOUNDARY = dataclasses.replace(LSOA21_BOUNDARY, discover=discover)

SOURCES = (LSOA21_BOUNDARY,)


def landed(reference_folder: Path) -> tuple[list[tuple[SourceSpec, Path]], list[str]]:
    """The boundary files of a reference landing folder (`boundaries/`, where `vru download`
    writes them), for `pipeline.load_reference`: (layout, file) pairs and refusals by name."""
    folder = Path(reference_folder) / "boundaries"
    if not folder.is_dir():
        return [], []
    pairs, refused = discover(folder)
    return pairs, [str(r) for r in refused]
