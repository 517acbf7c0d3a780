"""Stop-and-search map points placed in LSOAs 2021 by point in polygon, against the boundaries
loaded (stg_ons__lsoa21_boundary); only the points street crimes do not already place
(int_police__stop_search_point without a map-point LSOA) are tested.

DuckDB's spatial extension cannot be installed here, so the test is shapely's, vectorised: one
STRtree over the polygons and one bulk query of every point (no loop over points). A point on the
shared edge of two polygons touches both (`intersects`): it takes the lower LSOA code. A point in
no loaded polygon is not returned; int_police__stop_search_lsoa21 places it by nearest centroid.
Coordinates are WGS84 longitude/latitude throughout (the boundaries' and police.uk's own).
"""

import numpy as np
import pandas as pd
import shapely


def model(dbt, session):
    dbt.config(materialized="table")
    # each relation is read to the end here (DuckDB takes no new work while a result is pending)
    points = dbt.ref("int_police__stop_search_point").filter("map_point_lsoa21_code is null") \
        .project("latitude, longitude").fetchnumpy()
    polygons = dbt.ref("stg_ons__lsoa21_boundary").project("lsoa21_code, geometry_wkb").fetchall()
    latitude = np.asarray(points["latitude"], dtype=float)
    longitude = np.asarray(points["longitude"], dtype=float)
    hits = pd.DataFrame({"latitude": pd.Series([], dtype=float), "longitude": pd.Series([], dtype=float),
                         "lsoa21_code": pd.Series([], dtype=object)})
    if len(latitude) and polygons:
        codes = np.array([code for code, _ in polygons], dtype=object)
        tree = shapely.STRtree(shapely.from_wkb(np.array([bytes(wkb) for _, wkb in polygons], dtype=object)))
        point, polygon = tree.query(shapely.points(longitude, latitude), predicate="intersects")
        hits = pd.DataFrame({"latitude": latitude[point], "longitude": longitude[point],
                             "lsoa21_code": codes[polygon]})
    return session.from_df(hits).aggregate(
        "cast(latitude as double) as latitude, cast(longitude as double) as longitude, "
        "cast(min(lsoa21_code) as varchar) as lsoa21_code, count(*)::integer as polygons_touched",
        "latitude, longitude")
