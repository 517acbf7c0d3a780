"""The source registry: every delivered source, declared once (a `SourceSpec` in a module of this
package), and what is derived from the declarations.

A module here declares its sources in a module-level `SOURCES` tuple; they are found by
importing the package, so a new source is its declaration (plus its dbt staging model, its
numerator model if it has one, and catalogue entries): nothing in the pipeline, the CLI or the
DAGs names it. Derived here: the raw tables that must exist, `raw.source_registry` (which dbt
reads for the refresh scope), and the sources Great Expectations gates.
"""

from __future__ import annotations

import importlib
import pkgutil

import duckdb

from ingestion.load import SourceSpec, ensure_tables

_REGISTERED: dict[str, SourceSpec] = {}


def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        for spec in getattr(importlib.import_module(f"{__name__}.{module.name}"), "SOURCES", ()):
            register(spec)


def register(spec: SourceSpec) -> SourceSpec:
    """Add a declaration (the package's modules are registered on import; a deployment's own
    source module may call this too). A second declaration under the same name must be the same."""
    known = _REGISTERED.get(spec.name)
    if known is not None and known is not spec:
        raise ValueError(f"source {spec.name!r} is declared twice")
    _REGISTERED[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def all_sources() -> list[SourceSpec]:
    return list(_REGISTERED.values())


def get(name: str) -> SourceSpec:
    """A source by its name or its command (`police-street`, `force-crime`)."""
    for spec in all_sources():
        if name in (spec.name, spec.cli_name) or name.replace("-", "_") == spec.name:
            return spec
    from ingestion.errors import VruError

    raise VruError(f"no source called {name!r}",
                   hint="one of: " + ", ".join(sorted(s.cli_name for s in all_sources())))


def landed_sources() -> list[SourceSpec]:
    """Sources the pipeline DAG loads from the landing area, each by its own task: those that add
    periods first, then those that revise them (outcomes refer to crimes loaded by period)."""
    order = {"by_period": 0, "revises_history": 1, "reference": 2}
    return sorted((s for s in all_sources() if s.landing), key=lambda s: (order[s.refresh], s.name))


def gated_sources() -> list[SourceSpec]:
    """Sources whose deliveries Great Expectations must pass before dbt may use them."""
    return [s for s in all_sources() if s.gx_suite]


REGISTRY_DDL = """CREATE OR REPLACE TABLE raw.source_registry (
    source VARCHAR PRIMARY KEY, raw_table VARCHAR NOT NULL, description VARCHAR, refresh VARCHAR NOT NULL,
    area_level VARCHAR NOT NULL, period_type VARCHAR, gx_suite VARCHAR, reporting_unit_kind VARCHAR,
    health_data BOOLEAN NOT NULL)"""


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, *also: SourceSpec) -> None:
    """Create the manifest and every declared raw table (empty where nothing was delivered yet,
    so the models that read them still build), and write the registry where dbt reads it.
    `also`: sources not in the registry (a layout or a test's own declaration) whose tables a
    load needs too."""
    ensure_tables(con, *all_sources(), *also)
    con.execute(REGISTRY_DDL)
    con.executemany("INSERT INTO raw.source_registry VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [[s.name, s.raw_table, s.description, s.refresh, s.area_level, s.period_type, s.gx_suite,
                      s.reporting_unit.kind if s.reporting_unit else None, s.health_data]
                     for s in all_sources()])


_discover()
