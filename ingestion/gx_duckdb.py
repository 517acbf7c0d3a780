"""Great Expectations' SQL path on a DuckDB connection this process already holds, so checks run
inside DuckDB and no table is copied to pandas.

GX 1.24's SQL data source over duckdb-engine is broken as shipped (STACK_NOTES.md, GX issues
10738 and 11579, duckdb_engine 734): `SqlAlchemyExecutionEngine.execute_query` hands back its
result after the pooled connection was returned, duckdb-engine empties a result when its
connection is returned, and every metric then fails with "list index out of range" — clean and
broken data alike. The fix lives here only: `DuckDBExecutionEngine` buffers each result (a few
aggregate rows, or a sample of unexpected values) before the connection goes back.

Connections come from the caller's own `duckdb.DuckDBPyConnection` (`bound_connection`): DuckDB
allows one read-write process per file, and a second `duckdb.connect` of the same file in this
process with other settings is refused, so the data source opens a cursor (a connection to the
same database instance) per query instead of connecting to the file itself.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import duckdb
import sqlalchemy as sa
from duckdb_engine import ConnectionWrapper
from great_expectations.datasource.fluent import SQLDatasource
from great_expectations.execution_engine import SqlAlchemyExecutionEngine

DATASOURCE_TYPE = "vru_duckdb"

_bound: contextvars.ContextVar[duckdb.DuckDBPyConnection | None] = contextvars.ContextVar(
    "vru_gx_duckdb_connection", default=None)


@contextmanager
def bound_connection(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Validations run inside this block read through `con` (a cursor of it per query)."""
    token = _bound.set(con)
    try:
        yield
    finally:
        _bound.reset(token)


def _cursor() -> ConnectionWrapper:
    con = _bound.get()
    if con is None:
        raise RuntimeError("a DuckDB validation runs inside gx_duckdb.bound_connection(con)")
    return ConnectionWrapper(con.cursor())


class DuckDBExecutionEngine(SqlAlchemyExecutionEngine):
    """GX's SQLAlchemy execution engine with each query's rows fetched while its connection is
    still checked out. `rows_fetched` counts every row that left DuckDB (the tests bound it)."""

    rows_fetched: int = 0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # duckdb-engine's dialect is PostgreSQL's (DuckDB speaks its SQL, `~` regex match and
        # types included), but GX keys its regex and type support on the dialect's module and
        # knows no "duckdb": without this every regex expectation raises NotImplementedError
        self.dialect_module = sa.dialects.postgresql

    def execute_query(self, query):
        with self.get_connection() as connection:
            frozen = self._execute_query_with_recovery(connection, query).freeze()
        DuckDBExecutionEngine.rows_fetched += len(frozen.data)
        return frozen()

    def execute_query_in_transaction(self, query):
        return self.execute_query(query)      # reads only: DuckDB needs no transaction around them


class DuckDBDatasource(SQLDatasource):
    """A GX fluent SQL data source over the DuckDB connection bound by `bound_connection`. The
    connection string only names the dialect; queries run on a fresh cursor of the bound
    connection each (no pool: a cursor is cheap, and none outlives the block)."""

    type: Literal["vru_duckdb"] = DATASOURCE_TYPE
    connection_string: str = "duckdb:///:memory:"
    create_temp_table: bool = False     # the batch is a query over the raw table; no copy of it

    @property
    def execution_engine_type(self) -> type[SqlAlchemyExecutionEngine]:
        return DuckDBExecutionEngine

    def _create_engine(self) -> sa.Engine:
        return sa.create_engine(self.connection_string, creator=_cursor, poolclass=sa.pool.NullPool)

    def get_execution_engine(self) -> SqlAlchemyExecutionEngine:
        if self._execution_engine is None:
            self._execution_engine = DuckDBExecutionEngine(engine=self.get_engine(), create_temp_table=False)
        return self._execution_engine
