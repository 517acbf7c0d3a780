"""Run the Great Expectations suites on warehouse tables inside DuckDB, with Data Docs on disk.

GX reads DuckDB through its SQL path, made to work in gx_duckdb.py (as shipped it returns no rows
here, so clean and broken data look alike: STACK_NOTES.md). A result is trusted only when no
expectation raised: an exception counts as a failure and is reported as such.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingestion import progress

# the DuckDB data source (gx_duckdb.py); "vru_warehouse" was the pandas one of earlier versions
DATA_SOURCE = "vru_warehouse_duckdb"


@dataclass(frozen=True)
class ExpectationOutcome:
    suite: str
    expectation_type: str
    columns: str
    success: bool
    unexpected_count: int | None
    partial_unexpected: tuple
    raised: str | None

    def describe(self) -> str:
        where = f"{self.expectation_type}({self.columns})"
        if self.raised:
            return f"{self.suite}: {where} could not be evaluated — {self.raised}"
        count = f" — {self.unexpected_count} unexpected value(s)" if self.unexpected_count else ""
        sample = f", e.g. {list(self.partial_unexpected)[:3]}" if self.partial_unexpected else ""
        return f"{self.suite}: {where} failed{count}{sample}"


@dataclass(frozen=True)
class QualityReport:
    outcomes: tuple[ExpectationOutcome, ...]

    @property
    def success(self) -> bool:
        return all(o.success and not o.raised for o in self.outcomes)

    def failures(self) -> list[str]:
        return [o.describe() for o in self.outcomes if not o.success or o.raised]

    def outcome(self, suite: str, expectation_type: str, column: str | None = None) -> ExpectationOutcome:
        matches = [o for o in self.outcomes if o.suite == suite and o.expectation_type == expectation_type
                   and (column is None or o.columns == column)]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} outcomes for {suite}/{expectation_type}({column})")
        return matches[0]


def data_docs_index(gx_dir: Path) -> Path:
    return Path(gx_dir) / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _context(gx_dir: Path):
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    import ingestion.gx_duckdb  # noqa: F401  (registers the data source type before the context reads its config)

    Path(gx_dir).mkdir(parents=True, exist_ok=True)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", context_root_dir=str(gx_dir))
    bars = context.variables.progress_bars
    enabled = bars.get("globally", True) if isinstance(bars, dict) else getattr(bars, "globally", True)
    if enabled:
        # metric progress bars would flood Airflow task logs and the CLI
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    return context


def _checkpoint(context, suite_name: str, query: str):
    """The suite's checkpoint over a query asset of the DuckDB data source (gx_duckdb.py). The
    asset's query is the batch (a delivery's rows, the rows a build rewrote): when it changes, the
    asset, its batch definition and the validation are made again."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    from expectations import suites

    suite = context.suites.add_or_update(suites()[suite_name]())
    source = context.data_sources.add_or_update_vru_duckdb(name=DATA_SOURCE)
    if suite_name in source.get_asset_names() and source.get_asset(suite_name).query != query:
        source.delete_asset(suite_name)
    asset = (source.get_asset(suite_name) if suite_name in source.get_asset_names()
             else source.add_query_asset(name=suite_name, query=query))
    batch = next((b for b in asset.batch_definitions if b.name == "whole_batch"), None) \
        or asset.add_batch_definition_whole_table("whole_batch")
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch, suite=suite))
    return context.checkpoints.add_or_update(gx.Checkpoint(
        name=f"{suite_name}_checkpoint", validation_definitions=[validation],
        actions=[UpdateDataDocsAction(name="update_data_docs")]))


def validate_queries(con: duckdb.DuckDBPyConnection, gx_dir: Path, batches: Mapping[str, str],  # noqa: F821
                     reporter: progress.Reporter | None = None) -> QualityReport:
    """Validate each query's rows (a SELECT over the warehouse `con` holds) with the suite of the
    same name, through its checkpoint, inside DuckDB: GX sends its metrics as SQL and only
    aggregates and a sample of unexpected values come back. Progress (progress.py): a step
    "checks <suites>" counting the suites run and the rows checked."""
    with progress.current(reporter).step(f"checks {', '.join(batches)}", total=len(batches), unit="suites") as step:
        return _validate_queries(con, gx_dir, batches, step)


def _validate_queries(con, gx_dir: Path, batches: Mapping[str, str], step: progress.Step) -> QualityReport:
    from ingestion.gx_duckdb import bound_connection

    step.set_phase("Great Expectations context")
    outcomes: list[ExpectationOutcome] = []
    with bound_connection(con):
        context = _context(gx_dir)
        for suite_name, query in batches.items():
            rows = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
            step.set_phase(f"{suite_name}, {progress.rows_text(rows)} rows")
            result = _checkpoint(context, suite_name, query).run()
            for validation in result.run_results.values():
                outcomes += [_outcome(suite_name, r) for r in validation.results]
            step.advance(rows=rows)
    step.set_phase("")
    return QualityReport(tuple(outcomes))


def _outcome(suite_name: str, r) -> ExpectationOutcome:
    config = r.expectation_config
    kwargs = config.kwargs
    columns = kwargs.get("column") or ",".join(
        kwargs.get("column_list") or [kwargs.get("column_A") or "", kwargs.get("column_B") or ""]
        if kwargs.get("column_A") or kwargs.get("column_list") else [])
    info = r.exception_info or {}
    raised = None
    if isinstance(info, dict) and info.get("raised_exception"):
        raised = info.get("exception_message")
    elif isinstance(info, dict):
        nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
        raised = nested[0].get("exception_message") if nested else None
    res = r.result or {}
    key = (config.meta or {}).get("key")       # a unique key checked by its repeated keys (expectations/unique_key.py)
    if key:
        return ExpectationOutcome(
            suite=suite_name, expectation_type="expect_unique_key", columns=",".join(key), success=bool(r.success),
            unexpected_count=res.get("observed_value"), partial_unexpected=(), raised=raised)
    return ExpectationOutcome(
        suite=suite_name, expectation_type=config.type, columns=columns or "",
        success=bool(r.success), unexpected_count=res.get("unexpected_count"),
        partial_unexpected=tuple(map(str, res.get("partial_unexpected_list") or [])),
        raised=raised)
