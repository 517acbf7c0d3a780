"""A compound key's uniqueness as one GROUP BY inside DuckDB.

GX's ExpectCompoundColumnsToBeUnique joins every row back to its key's count and then reads the
rows again for a sample: on a national year of street records that was 1.9 s of the raw check's
2.6 s of SQL, and 1.2 s of the mart check's 1.5 s. This asks for the keys found more than once
instead (GX's UnexpectedRowsExpectation: it passes when the query returns no row), and names the
key's columns in `meta` so a failure reads like any other (ingestion/quality.py)."""

from __future__ import annotations


def expect_unique_key(columns: list[str], meta: dict) -> object:
    import great_expectations.expectations as gxe

    listed = ", ".join(columns)
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=f"SELECT {listed}, count(*) AS repeated FROM {{batch}} GROUP BY {listed} "
                              "HAVING count(*) > 1",
        description=f"one row per ({listed})", meta={**meta, "key": list(columns)})
