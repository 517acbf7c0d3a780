"""SQL functions the dbt models call that DuckDB does not have, registered on dbt's connection.

A dbt-duckdb plugin (profiles.yml `plugins`), so every dbt run (CLI, cosmos, tests) has them.
Each is vectorised over Arrow arrays: DuckDB hands over a chunk of rows at a time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import BOOLEAN, DOUBLE

from ingestion.poisson_funnel import funnel_count


def _poisson_funnel_count(expected: pa.ChunkedArray, confidence: pa.ChunkedArray, upper: pa.ChunkedArray) -> pa.Array:
    lam = expected.to_numpy()
    level = confidence.to_numpy()
    side = upper.to_numpy(zero_copy_only=False)
    out = np.empty(len(lam))
    for is_upper in (True, False):
        rows = np.flatnonzero(side == is_upper)
        if rows.size:
            out[rows] = funnel_count(lam[rows], level[rows], upper=is_upper)
    return pa.array(out, from_pandas=True)


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        # poisson_funnel_count(expected, confidence, upper): the count on a funnel plot's exact
        # Poisson control line at an area's expected count (ingestion/poisson_funnel.py)
        conn.create_function("poisson_funnel_count", _poisson_funnel_count, [DOUBLE, DOUBLE, BOOLEAN], DOUBLE,
                             type="arrow")
