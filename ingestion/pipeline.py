"""The pipeline's steps, each a plain function the DAGs and the CLI call (no Airflow here).

Every step that writes takes the single-writer lock through `warehouse.writer`, opens its
connection, and closes it before returning, so steps can run in separate processes one after
another (Airflow tasks) without ever meeting DuckDB's lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ingestion import force_crime, ons_reference, police_street
from ingestion.load import FileRejected, LoadResult, ensure_tables, load_files
from ingestion.settings import Settings, get_settings
from ingestion.warehouse import writer

CHECK_RESULT_DDL = """
CREATE TABLE IF NOT EXISTS raw.check_result (
    run_id VARCHAR NOT NULL, suite VARCHAR NOT NULL, checked_at TIMESTAMP NOT NULL,
    success BOOLEAN NOT NULL, rows_checked BIGINT NOT NULL, failures VARCHAR
)"""


class DeliveriesRejected(RuntimeError):
    """Some files were refused; the others were loaded. The message lists every refusal."""


class ChecksFailed(RuntimeError):
    pass


@dataclass
class IngestReport:
    results: list[LoadResult] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        counts["rejected"] = len(self.rejections)
        return ", ".join(f"{n} {k}" for k, n in counts.items() if n)


def _load_all(loader, files: list[Path], settings: Settings) -> IngestReport:
    """Files whose source is decided file by file (reference lookups, force extracts)."""
    report = IngestReport()
    with writer(settings) as con:
        for path in files:
            try:
                report.results.append(loader(con, path))
            except FileRejected as rejection:
                report.rejections.append(str(rejection))
    return _raise_on_rejections(report)


def _load_source(spec, files: list[Path], settings: Settings) -> IngestReport:
    """Many files of one source, loaded set-based in batches (load.load_files)."""
    with writer(settings) as con:
        results = load_files(con, spec, files)
    return _raise_on_rejections(IngestReport(results=[r for r in results if not r.rejection],
                                             rejections=[str(r.rejection) for r in results if r.rejection]))


def _raise_on_rejections(report: IngestReport) -> IngestReport:
    if report.rejections:
        raise DeliveriesRejected(
            f"{len(report.rejections)} file(s) refused ({report.summary()}):\n  "
            + "\n  ".join(report.rejections))
    return report


REFERENCE_SPECS = (ons_reference.LSOA21_LAD, ons_reference.LAD_CSP_PFA, ons_reference.LAD_HIERARCHY,
                   ons_reference.LSOA21_MSOA21, ons_reference.LSOA11_LSOA21, ons_reference.LSOA21_CENTROID,
                   ons_reference.POPULATION_LSOA, ons_reference.POPULATION_AREA, ons_reference.IMD2019_LSOA11)


def load_reference(folder: Path, settings: Settings | None = None) -> IngestReport:
    """ONS lookups (folder/ons/*.csv), population estimates (folder/population/*.csv) and, when
    present, IMD 2019 (folder/deprivation/*.csv). Optional reference tables are created empty so
    the models that read them still build."""
    settings = settings or get_settings()
    folder = Path(folder)
    lookups = sorted((folder / "ons").glob("*.csv"))
    populations = sorted((folder / "population").glob("*.csv"))
    if not lookups or not populations:
        raise FileNotFoundError(f"{folder}: expected ons/*.csv lookups and population/*.csv estimates")
    with writer(settings) as con:
        for spec in REFERENCE_SPECS:
            ensure_tables(con, spec)
    report = _load_all(ons_reference.load_lookup, lookups, settings)
    report.results += _load_all(ons_reference.load_population, populations, settings).results
    deprivation = sorted((folder / "deprivation").glob("*.csv"))
    if deprivation:
        report.results += _load_all(ons_reference.load_imd, deprivation, settings).results
    return report


def ingest_police_street(folder: Path, settings: Settings | None = None, month: str | None = None) -> IngestReport:
    """Every `*-street.csv` under folder (the police.uk archive layout, YYYY-MM/ sub-folders, or
    a downloaded .zip), or only those of `month` ("YYYY-MM")."""
    settings = settings or get_settings()
    files = police_street.street_files(Path(folder), month)
    if not files:
        which = f" for {month}" if month else ""
        raise FileNotFoundError(f"{folder}: no police.uk street files (*-street.csv){which} found")
    report = _load_source(police_street.POLICE_STREET, files, settings)
    # outcomes and stop-and-search travel in the same archive folders; both are optional
    with writer(settings) as con:
        ensure_raw_tables(con)
    folder = Path(folder)
    folder = folder.with_suffix("") if folder.suffix == ".zip" else folder
    for find, spec in [(police_street.outcome_files, police_street.POLICE_OUTCOMES),
                       (police_street.stop_search_files, police_street.POLICE_STOP_SEARCH)]:
        found = find(folder, month)
        if found:
            report.results += _load_source(spec, found, settings).results
    return report


def ensure_raw_tables(con) -> None:
    """Create every raw table dbt reads, empty where nothing was delivered yet (outcomes,
    stop-and-search and force extracts are optional), so the models always build."""
    for spec in (police_street.POLICE_STREET, police_street.POLICE_OUTCOMES, police_street.POLICE_STOP_SEARCH):
        ensure_tables(con, spec)
    con.execute(force_crime.RAW_DDL)


def ingest_force_crime(folder: Path, settings: Settings | None = None, month: str | None = None) -> IngestReport:
    """Forces' recorded-crime extracts under folder, each read through the column-mapping file
    beside it (or the project schema). Files no mapping matches are refused by name, the others
    still load."""
    settings = settings or get_settings()
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no force recorded-crime extracts folder")
    paired, refused = force_crime.extract_files(folder, month)
    with writer(settings) as con:
        ensure_raw_tables(con)
    report = IngestReport()
    try:
        if paired:
            report = _load_all(lambda con, item: force_crime.load_extract_file(con, *item), paired, settings)
    except DeliveriesRejected as error:
        if not refused:
            raise
        report.rejections = [str(error)]
    if refused:
        raise DeliveriesRejected(
            f"{len(refused) + len(report.rejections)} problem(s) with force extracts:\n  "
            + "\n  ".join([str(r) for r in refused] + report.rejections))
    return report


def _record_check(con, suite: str, rows: int, report) -> None:
    con.execute(CHECK_RESULT_DDL)
    con.execute(
        "INSERT INTO raw.check_result VALUES (?, ?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, suite, datetime.now(timezone.utc).replace(tzinfo=None),
         report.success, rows, "\n".join(report.failures()) or None],
    )


# raw sources checked by Great Expectations before dbt may use them: (source, raw table, suite)
RAW_CHECKS = (
    ("police_street", "raw.police_street", "raw_police_street"),
    (force_crime.SOURCE_NAME, force_crime.RAW_TABLE, "raw_force_recorded_crime"),
)


# GX validates pandas batches (see quality.py); batches of about this many rows keep memory
# bounded (a national year of street files is 6.5 million rows)
CHECK_BATCH_ROWS = 1_000_000


def _chunks(sizes: list[tuple[str, int]]) -> list[list[str]]:
    """Consecutive groups of keys whose sizes add up to about CHECK_BATCH_ROWS (a key is never split)."""
    limit, chunks, size = CHECK_BATCH_ROWS, [[]], 0
    for key, rows in sizes:
        if chunks[-1] and size + rows > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(key)
        size += rows
    return [c for c in chunks if c]


def check_raw(settings: Settings | None = None) -> str:
    """Great Expectations on every delivery not yet checked, whole deliveries at a time. Passing
    loads become usable by dbt; loads in a failing batch are marked failed (staging leaves them
    out) and the step fails."""
    from ingestion.quality import validate_frames

    settings = settings or get_settings()
    done, failures = [], []
    with writer(settings) as con:
        ensure_raw_tables(con)
        con.execute(CHECK_RESULT_DDL)
        for source, table, suite in RAW_CHECKS:
            pending = con.execute(
                "SELECT load_id, rows_loaded FROM raw.load_manifest WHERE source = ? "
                "AND outcome = 'loaded' AND check_status = 'pending' ORDER BY source_file", [source]).fetchall()
            for load_ids in _chunks(pending):
                batch = con.execute(f"SELECT * FROM {table} WHERE _load_id IN (SELECT unnest(?::VARCHAR[]))",
                                    [load_ids]).fetchdf()
                report = validate_frames(settings.gx_dir, {suite: batch})
                status = "passed" if report.success else "failed"
                con.execute("UPDATE raw.load_manifest SET check_status = ? WHERE load_id IN (SELECT unnest(?))",
                            [status, load_ids])
                _record_check(con, suite, len(batch), report)
                done.append(f"{source}: {len(load_ids)} deliveries, {len(batch)} rows {status}")
                failures += report.failures()
                del batch
    if failures:
        raise ChecksFailed("raw batch failed its checks; it will not reach the marts:\n  "
                           + "\n  ".join(failures))
    return "; ".join(done) or "no new deliveries to check"


def check_marts(settings: Settings | None = None, everything: bool = False) -> str:
    """Great Expectations on the indicator values the last dbt build wrote (dbt's
    int_refresh__indicator / int_refresh__period say which), or on the whole mart; one or more
    indicators at a time (the suite's keys all include the indicator, so uniqueness holds within
    each batch); one result."""
    from ingestion.quality import QualityReport, validate_frames

    settings = settings or get_settings()
    outcomes, rows = [], 0
    with writer(settings) as con:
        scoped = not everything and con.execute(
            "SELECT count(*) = 2 FROM information_schema.tables WHERE table_schema = 'intermediate' "
            "AND table_name IN ('int_refresh__indicator', 'int_refresh__period')").fetchone()[0]
        where = """(indicator_id IN (SELECT indicator_id FROM intermediate.int_refresh__indicator WHERE rebuilt_in_full)
                    OR (period_type, period_start) IN (SELECT (period_type, period_start) FROM intermediate.int_refresh__period))
                """ if scoped else "true"
        con.execute(f"CREATE OR REPLACE TEMP VIEW _mart_rows AS SELECT * FROM marts.fct_indicator_value WHERE {where}")
        sizes = con.execute("SELECT indicator_id, count(*) FROM _mart_rows GROUP BY ALL ORDER BY ALL").fetchall()
        if scoped and not sizes:
            # the build rewrote nothing; the mart's last check still stands
            return "no indicator values were rebuilt; nothing new to check"
        for indicators in _chunks(sizes) or [[]]:
            frame = con.execute("SELECT * FROM _mart_rows WHERE indicator_id IN (SELECT unnest(?::VARCHAR[]))",
                                [indicators]).fetchdf()
            outcomes += validate_frames(settings.gx_dir, {"fct_indicator_value": frame}).outcomes
            rows += len(frame)
            del frame
        report = QualityReport(tuple(outcomes))
        _record_check(con, "fct_indicator_value", rows, report)
    if not report.success:
        raise ChecksFailed("fct_indicator_value failed its checks; not published:\n  "
                           + "\n  ".join(report.failures()))
    return f"{rows} indicator values passed" + (" (those the last build wrote)" if scoped else "")
