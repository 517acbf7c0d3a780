"""Connect to the published file as a BI tool does (SQLAlchemy and duckdb-engine), list what the
tool sees and print it as JSON: every table and view with its comment, columns (type, nullable,
comment), primary and foreign keys, first rows and row count, DuckDB's own catalog as the driver's
DuckDB reads it, and whether a write is refused. Run it with the BI driver set (`make bi-venv`):

    .venv-bi/bin/python bi/check_connection.py \
        'duckdb:///warehouse/published/vru.duckdb?access_mode=read_only'

With --wait it says "connected" once the connection is open and waits for a line on standard
input before it reads anything (tests/test_bi_connect.py opens a second reader meanwhile).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from importlib.metadata import version

import duckdb
import sqlalchemy as sa


def inspect_relation(connection, inspector, name: str, kind: str) -> dict:
    columns = inspector.get_columns(name)
    # a query over the reflected columns, as a BI tool builds one for a dataset
    table = sa.table(name, *(sa.column(c["name"]) for c in columns))
    first = connection.execute(sa.select(table).limit(5)).fetchall()
    return {
        "kind": kind,
        "comment": inspector.get_table_comment(name)["text"],
        "columns": [{"name": c["name"], "type": str(c["type"]), "nullable": c["nullable"], "comment": c.get("comment")}
                    for c in columns],
        "primary_key": inspector.get_pk_constraint(name)["constrained_columns"],
        "foreign_keys": sorted([fk["constrained_columns"], fk["referred_table"], fk["referred_columns"]]
                               for fk in inspector.get_foreign_keys(name)),
        "first_rows": len(first),
        "rows": connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one(),
    }


def catalog(connection) -> dict:
    """What the driver's own DuckDB reads from the file's catalog."""

    def rows(sql):
        return connection.exec_driver_sql(sql).fetchall()
    return {
        "tables": dict(rows("SELECT table_name, comment FROM duckdb_tables() "
                            "WHERE database_name = current_database() AND schema_name = 'main'")),
        "views": dict(rows("SELECT view_name, comment FROM duckdb_views() "
                           "WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal")),
        "columns": [list(r) for r in rows("SELECT table_name, column_name, comment FROM duckdb_columns() "
                                          "WHERE database_name = current_database() AND schema_name = 'main' "
                                          "AND NOT internal ORDER BY table_name, column_index")],
        "constraints": sorted([list(r) for r in rows(
            "SELECT table_name, constraint_type, constraint_column_names, coalesce(referenced_table, '') "
            "FROM duckdb_constraints() WHERE database_name = current_database() AND schema_name = 'main' "
            "AND constraint_type <> 'NOT NULL'")]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="SQLAlchemy URL of the published file")
    parser.add_argument("--wait", action="store_true", help="wait for a line on stdin once connected")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*reflection on indices.*")   # duckdb-engine: no index reflection
    engine = sa.create_engine(args.url)
    with engine.connect() as connection:
        if args.wait:
            print("connected", flush=True)
            sys.stdin.readline()
        inspector = sa.inspect(connection)
        tables, views = inspector.get_table_names(), inspector.get_view_names()
        relations = {name: inspect_relation(connection, inspector, name, "table") for name in tables}
        relations.update({name: inspect_relation(connection, inspector, name, "view") for name in views})
        seen = catalog(connection)
        try:
            connection.exec_driver_sql("CREATE TABLE bi_write_probe AS SELECT 1 AS x")
            write = "accepted"
        except sa.exc.DBAPIError as error:
            write = f"refused: {error.orig}"
    engine.dispose()
    print(json.dumps({"versions": {p: version(p) for p in ("duckdb", "duckdb-engine", "SQLAlchemy")},
                      "duckdb_module": duckdb.__version__, "relations": relations, "catalog": seen,
                      "write": write}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
