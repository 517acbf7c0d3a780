"""Each loaded LSOA 2021 polygon (stg_ons__lsoa21_boundary) simplified for drawing, as GeoJSON
text: Douglas-Peucker with topology preserved at 0.0001 degrees (about 7-11 m across England),
coordinates rounded to 5 decimals (about 1 m). The report's LSOA maps read it from the published
file (fct_lsoa_boundary), so the polygons are small enough to ship in static pages (a national
file of 35,000 LSOAs stays in the tens of megabytes). Empty when no boundaries are loaded.

DuckDB's spatial extension cannot be installed here: shapely does the work, vectorised (one
simplify and one to_geojson over all polygons, no loop).
"""

import numpy as np
import pandas as pd
import shapely

TOLERANCE_DEGREES = 0.0001
DECIMALS = 5


def model(dbt, session):
    dbt.config(materialized="table")
    polygons = dbt.ref("stg_ons__lsoa21_boundary").project("lsoa21_code, geometry_wkb").fetchall()
    frame = pd.DataFrame({"lsoa21_code": pd.Series([], dtype=object), "geometry_geojson": pd.Series([], dtype=object),
                          "vertex_count": pd.Series([], dtype="int64")})
    if polygons:
        shapes = shapely.from_wkb(np.array([bytes(wkb) for _, wkb in polygons], dtype=object))
        simple = shapely.simplify(shapes, TOLERANCE_DEGREES, preserve_topology=True)
        simple = shapely.transform(simple, lambda xy: np.round(xy, DECIMALS))
        frame = pd.DataFrame({"lsoa21_code": [code for code, _ in polygons],
                              "geometry_geojson": shapely.to_geojson(simple),
                              "vertex_count": shapely.get_num_coordinates(simple).astype("int64")})
    return session.from_df(frame).project(
        "cast(lsoa21_code as varchar) as lsoa21_code, cast(geometry_geojson as varchar) as geometry_geojson, "
        f"cast(vertex_count as integer) as vertex_count, {TOLERANCE_DEGREES}::double as tolerance_degrees")
