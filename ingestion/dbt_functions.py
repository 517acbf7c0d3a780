"""SQL functions the dbt models call that DuckDB does not have, registered on dbt's connection.

A dbt-duckdb plugin (profiles.yml `plugins`), so every dbt run (CLI, cosmos, tests) has them.
Each is vectorised over Arrow arrays: DuckDB hands over a chunk of rows at a time.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import DOUBLE

from ingestion.poisson_funnel import funnel_count

_LINES = duckdb.struct_type({"lower": DOUBLE, "upper": DOUBLE})


def _poisson_funnel_lines(expected: pa.ChunkedArray, confidence: pa.ChunkedArray) -> pa.StructArray:
    lam = expected.to_numpy(zero_copy_only=False)
    level = confidence.to_numpy(zero_copy_only=False)
    return pa.StructArray.from_arrays(
        [pa.array(funnel_count(lam, level, upper=False), from_pandas=True),
         pa.array(funnel_count(lam, level, upper=True), from_pandas=True)], names=["lower", "upper"])


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        # poisson_funnel_lines(expected, confidence): the counts on a funnel plot's lower and upper
        # exact Poisson control lines at an area's expected count (ingestion/poisson_funnel.py),
        # both in one call, as {lower, upper}
        conn.create_function("poisson_funnel_lines", _poisson_funnel_lines, [DOUBLE, DOUBLE], _LINES, type="arrow")
