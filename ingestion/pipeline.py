"""The pipeline's steps, each a plain function the DAGs and the CLI call (no Airflow here).

Every step that writes takes the single-writer lock through `warehouse.writer`, opens its
connection, and closes it before returning, so steps can run in separate processes one after
another (Airflow tasks) without ever meeting DuckDB's lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingestion import progress, sources
from ingestion.errors import VruError
from ingestion.load import MANIFEST_DDL, LoadResult, SourceSpec, discover_files, load_files
from ingestion.settings import Settings, get_settings
from ingestion.sources import ensure_raw_tables, force_crime, imd, la_codes, ons, police_uk
from ingestion.warehouse import writer


class DeliveriesRejected(VruError):
    """Some files were refused; the others were loaded. The message lists every refusal."""

    hint = "fix or re-export the files named and deliver them again; earlier loads are unchanged"


class NothingDelivered(VruError):
    """No file of the source was found where the user pointed."""

    hint = "check the path and the file names (see `vru ingest --help` for each source's files)"


class ChecksFailed(VruError):
    hint = "see `vru status` and the Data Docs; the published warehouse is unchanged"


@dataclass
class IngestReport:
    results: list[LoadResult] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        counts["rejected"] = len(self.rejections)
        return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing delivered"


def _raise_on_rejections(report: IngestReport) -> IngestReport:
    if report.rejections:
        raise DeliveriesRejected(
            f"{len(report.rejections)} file(s) refused ({report.summary()}):\n  "
            + "\n  ".join(report.rejections))
    return report


def _load_layouts(pairs: list[tuple[SourceSpec, Path]], settings: Settings) -> IngestReport:
    """Files paired with the layout that reads them, loaded set-based a layout at a time."""
    groups: dict[SourceSpec, list[Path]] = {}
    for layout, path in pairs:
        groups.setdefault(layout, []).append(path)
    report = IngestReport()
    # one step over the layouts: each layout's own load step then logs at DEBUG, so loading the
    # reference data (a layout per file) says two lines, not two per file
    names = ", ".join(sorted({layout.name for layout in groups}))
    with writer(settings) as con, progress.current().step(f"load {names}", total=len(pairs), unit="files") as step:
        ensure_raw_tables(con)
        for layout, files in groups.items():
            results = load_files(con, layout, files)
            for result in results:
                if result.rejection:
                    report.rejections.append(str(result.rejection))
                else:
                    report.results.append(result)
            step.advance(len(files), rows=sum(r.rows_loaded for r in results))
    return report


def ingest(source: str | SourceSpec, path: Path, settings: Settings | None = None,
           month: str | None = None) -> IngestReport:
    """Load a source's files at `path` (a file, or a folder searched for the source's file
    names), only those of `month` (YYYY-MM) when given, then the files of the sources delivered
    with it found in the same place. Refused files are named in DeliveriesRejected after the
    others have loaded."""
    settings = settings or get_settings()
    spec = sources.get(source) if isinstance(source, str) else source
    pairs, refused = discover_files(spec, path, month)
    if not pairs and not refused:
        which = f" for {month}" if month else ""
        raise NothingDelivered(f"{path}: no {spec.name} files{which} found (file names like {spec.file_pattern})")
    report = _load_layouts(pairs, settings)
    report.rejections = [str(r) for r in refused] + report.rejections
    _raise_on_rejections(report)
    beside = Path(path).with_suffix("") if Path(path).suffix.lower() == ".zip" else Path(path)
    for name in spec.delivered_with:                    # optional: loaded when present
        pairs, refused = discover_files(sources.get(name), beside, month)
        if pairs or refused:
            companion = _load_layouts(pairs, settings)
            companion.rejections = [str(r) for r in refused] + companion.rejections
            report.results += _raise_on_rejections(companion).results
    return report


def ingest_landed(source: str | SourceSpec, landing_dir: Path, settings: Settings | None = None) -> IngestReport:
    """What the pipeline DAG loads for a source: its declared folder under the landing area,
    when anything of the source's was delivered there (sources may share a folder: a DfE
    release's register and by-reason files are optional beside its exclusions file)."""
    spec = sources.get(source) if isinstance(source, str) else source
    folder = Path(landing_dir) / spec.landing
    if not folder.exists() or discover_files(spec, folder) == ([], []):
        return IngestReport()
    return ingest(spec, folder, settings)


def month_deliveries(specs: list[SourceSpec], landing_dir: Path, month: str) -> dict[str, list[Path]]:
    """Per source, the files of `month` (YYYY-MM) in its landing folder, each submission in its
    latest revision (what `ingest_month` would load); a source with none that month maps to []."""
    found: dict[str, list[Path]] = {}
    for spec in specs:
        folder = Path(landing_dir) / spec.landing
        pairs, refused = discover_files(spec, folder, month) if folder.exists() else ([], [])
        found[spec.name] = [path for _, path in pairs] + [r.file for r in refused]
    return found


def ingest_month(specs: list[SourceSpec], landing_dir: Path, month: str,
                 settings: Settings | None = None) -> IngestReport:
    """Several sources' files of one month (YYYY-MM), each from its folder under the landing
    area, loaded together: what a monthly DAG run loads for its data interval. A source that has
    delivered nothing for the month is skipped (coverage records it as not delivered, never zero);
    files already loaded are unchanged, so running a month again changes nothing. Refused files
    are named in DeliveriesRejected after the others have loaded."""
    settings = settings or get_settings()
    pairs: list[tuple[SourceSpec, Path]] = []
    refused: list[str] = []
    for spec in specs:
        folder = Path(landing_dir) / spec.landing
        if folder.exists():
            found, rejected = discover_files(spec, folder, month)
            pairs += found
            refused += [str(r) for r in rejected]
    report = _load_layouts(pairs, settings) if pairs else IngestReport()
    report.rejections = refused + report.rejections
    return _raise_on_rejections(report)


def ingest_release(specs: list[SourceSpec], folder: Path, settings: Settings | None = None) -> IngestReport:
    """A published release's files, several sources' side by side in one folder (a DfE release:
    the schools register, the exclusions and the by-reason files), loaded in the order of
    `specs`, every file of the folder each source recognises. A source with no file there is
    skipped (its files are optional); NothingDelivered when none has any. Files already loaded
    are unchanged, so loading the same release again changes nothing. Refused files are named in
    DeliveriesRejected after the others have loaded."""
    settings = settings or get_settings()
    pairs: list[tuple[SourceSpec, Path]] = []
    refused: list[str] = []
    if Path(folder).exists():
        for spec in specs:
            found, rejected = discover_files(spec, folder)
            pairs += found
            refused += [str(r) for r in rejected]
    if not pairs and not refused:
        raise NothingDelivered(f"{folder}: no {', '.join(s.name for s in specs)} files found")
    report = _load_layouts(pairs, settings) if pairs else IngestReport()
    report.rejections = refused + report.rejections
    return _raise_on_rejections(report)


def load_reference(folder: Path, settings: Settings | None = None) -> IngestReport:
    """ONS lookups (folder/ons/*.csv), population estimates and the local authority code list
    (folder/population/*.csv) and, when present, IMD 2019 by LSOA and its local authority
    summaries (folder/deprivation/*.csv); each file's source is told by its header."""
    settings = settings or get_settings()
    folder = Path(folder)
    lookups = sorted((folder / "ons").glob("*.csv"))
    populations = sorted((folder / "population").glob("*.csv"))
    if not lookups or not populations:
        raise NothingDelivered(f"{folder}: expected ons/*.csv lookups and population/*.csv estimates")
    deprivation = sorted((folder / "deprivation").glob("*.csv"))
    pairs, refused = sources.boundaries.landed(folder)     # LSOA 2021 boundaries, when delivered
    for files, layout_for in [(lookups, ons.spec_for_lookup), (populations, la_codes.spec_for_population_file),
                              (deprivation, imd.spec_for_deprivation)]:
        for path in files:
            try:
                pairs.append((layout_for(path), path))
            except VruError as error:
                refused.append(str(error))
    report = _load_layouts(pairs, settings)
    report.rejections = refused + report.rejections
    return _raise_on_rejections(report)


def ingest_police_street(folder: Path, settings: Settings | None = None, month: str | None = None) -> IngestReport:
    """Every `*-street.csv` under folder (the police.uk archive layout, YYYY-MM/ sub-folders, or
    a downloaded .zip), or only those of `month` ("YYYY-MM"), with the outcomes and
    stop-and-search files that travel beside them."""
    return ingest(police_uk.POLICE_STREET, folder, settings, month)


def ingest_force_crime(folder: Path, settings: Settings | None = None, month: str | None = None) -> IngestReport:
    """Forces' recorded-crime extracts under folder, each read through the column-mapping file
    beside it (or the project schema). Files no mapping matches are refused by name, the others
    still load."""
    if not Path(folder).exists():
        raise NothingDelivered(f"{folder}: no force recorded-crime extracts folder")
    return ingest(force_crime.FORCE_RECORDED_CRIME, folder, settings, month)


def _record_check(con, suite: str, rows: int, report) -> None:
    con.execute(MANIFEST_DDL)
    con.execute(
        "INSERT INTO raw.check_result VALUES (?, ?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, suite, datetime.now(UTC).replace(tzinfo=None),
         report.success, rows, "\n".join(report.failures()) or None],
    )


def _load_batch_query(table: str, load_ids: list[str]) -> str:
    listed = ", ".join("'" + load_id.replace("'", "''") + "'" for load_id in load_ids)
    return f"SELECT * FROM {table} WHERE _load_id IN ({listed})"


def _check_loads(con, settings: Settings, spec: SourceSpec, loads: list[tuple[str, int]]) -> tuple[list, list]:
    """Validate the loads together; when they fail, halve and validate each half, down to single
    deliveries, so only the bad ones are held back (k bad of n cost about 2k·log2(n) more
    validations, none when all pass). Returns (passed, failed) as (load ids, rows, report)."""
    from ingestion.quality import validate_queries

    ids = [load_id for load_id, _ in loads]
    report = validate_queries(con, settings.gx_dir, {spec.gx_suite: _load_batch_query(spec.raw_table, ids)})
    rows = sum(n for _, n in loads)
    if report.success:
        return [(ids, rows, report)], []
    if len(loads) == 1:
        return [], [(ids, rows, report)]
    half = len(loads) // 2
    passed_a, failed_a = _check_loads(con, settings, spec, loads[:half])
    passed_b, failed_b = _check_loads(con, settings, spec, loads[half:])
    return passed_a + passed_b, failed_a + failed_b


def check_raw(settings: Settings | None = None) -> str:
    """Great Expectations, inside DuckDB, on every delivery not yet checked (only new loads: a
    delivery is checked once). A source's pending deliveries are validated together; passing
    loads become usable by dbt; deliveries that fail are found by halving and marked failed
    (staging leaves them out), and the step fails naming them."""
    settings = settings or get_settings()
    done, failures = [], []
    with writer(settings) as con:
        ensure_raw_tables(con)
        con.execute(MANIFEST_DDL)
        for spec in sources.gated_sources():
            pending = con.execute(
                "SELECT load_id, rows_loaded FROM raw.load_manifest WHERE source = ? "
                "AND outcome = 'loaded' AND check_status = 'pending' ORDER BY source_file", [spec.name]).fetchall()
            if not pending:
                continue
            passed, failed = _check_loads(con, settings, spec, pending)
            for status, results in (("passed", passed), ("failed", failed)):
                for load_ids, rows, report in results:
                    con.execute("UPDATE raw.load_manifest SET check_status = ? WHERE load_id IN (SELECT unnest(?))",
                                [status, load_ids])
                    _record_check(con, spec.gx_suite, rows, report)
                    done.append(f"{spec.name}: {len(load_ids)} deliveries, {rows} rows {status}")
                    if status == "failed":
                        failures += [f"{_source_files(con, load_ids)}: {failure}" for failure in report.failures()]
    if failures:
        raise ChecksFailed("raw batch failed its checks; it will not reach the marts:\n  "
                           + "\n  ".join(failures))
    return "; ".join(done) or "no new deliveries to check"


def _source_files(con, load_ids: list[str]) -> str:
    return ", ".join(r[0] for r in con.execute(
        "SELECT source_file FROM raw.load_manifest WHERE load_id IN (SELECT unnest(?)) ORDER BY 1", [load_ids]).fetchall())


class MartsNotBuilt(VruError):
    """The marts have not been built yet (a first day: raw data loaded, no `vru build` run)."""

    hint = "run `vru build`, then `vru check` again to check the marts"


def _delivered_sources(con) -> list[str]:
    """Sources other than reference data (lookups, population) with an accepted delivery: the
    ones indicator values are counted from."""
    counted = [s.name for s in sources.all_sources() if s.refresh != "reference"]
    return [r[0] for r in con.execute(
        "SELECT DISTINCT source FROM raw.accepted_load WHERE source IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1",
        [counted]).fetchall()]


# the in-memory database holding the rows a scoped mart check reads
CHECK_BATCH_DB = "mart_check_batch"


def _checked_since_last_build(con) -> bool:
    """The marts' last check passed, and no dbt build started after it (a build skipped because
    nothing was new starts none)."""
    last = con.execute("SELECT success, checked_at FROM raw.check_result WHERE suite = 'fct_indicator_value' "
                       "ORDER BY checked_at DESC LIMIT 1").fetchone()
    started = con.execute("SELECT max(started_at) FROM raw.dbt_build_started").fetchone()[0] if con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = 'dbt_build_started'"
    ).fetchone()[0] else None
    return bool(last and last[0] and started is not None and last[1] > started)


def check_marts(settings: Settings | None = None, everything: bool = False) -> str:
    """Great Expectations on the indicator values the last dbt build wrote (dbt's
    int_refresh__indicator / int_refresh__period say which), or on the whole mart, inside DuckDB;
    one result.

    First day: raises MartsNotBuilt when the marts do not exist yet (the CLI says so and goes
    on). When `fct_indicator_value` is empty and no source other than reference data (lookups,
    population, IMD) has an accepted delivery, there is nothing an indicator could be counted
    from: that is recorded as a passed check of 0 rows ("nothing to check"), so the reference
    marts (dim_area, fct_area_population, …) can be published on a fresh warehouse. An empty
    mart while some source *has* delivered data is checked as usual and fails (the suite wants
    at least one row). When the build rewrote nothing, the mart's last result stands — unless
    there is none, in which case the whole mart is checked. When no build ran since the last
    passing check (nothing was new), nothing is checked or recorded."""
    from ingestion.quality import QualityReport, validate_queries

    settings = settings or get_settings()
    with writer(settings) as con:
        built = con.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = 'marts' AND table_name = 'fct_indicator_value'").fetchone()[0]
        if not built:
            raise MartsNotBuilt(f"the marts are not built yet in {settings.working_db} (no marts.fct_indicator_value)")
        con.execute(MANIFEST_DDL)
        if not everything and _checked_since_last_build(con):
            return "the marts were not rebuilt since their last passing check: nothing new to check"
        checked_before = con.execute(
            "SELECT count(*) FROM raw.check_result WHERE suite = 'fct_indicator_value'").fetchone()[0]
        empty = not con.execute("SELECT count(*) FROM marts.fct_indicator_value").fetchone()[0]
        if empty and not _delivered_sources(con):
            _record_check(con, "fct_indicator_value", 0, QualityReport(()))
            return ("no indicator values yet, and no source but reference data has delivered any: "
                    "nothing to check (recorded as passed)")
        scoped = not everything and not empty and checked_before and con.execute(
            "SELECT count(*) = 2 FROM information_schema.tables WHERE table_schema = 'intermediate' "
            "AND table_name IN ('int_refresh__indicator', 'int_refresh__period')").fetchone()[0]
        # the not-delivered rows are rewritten by every build (fct_indicator_value)
        where = """(indicator_id IN (SELECT indicator_id FROM intermediate.int_refresh__indicator WHERE rebuilt_in_full)
                    OR (indicator_id, period_type, period_start) IN
                       (SELECT (indicator_id, period_type, period_start) FROM intermediate.int_refresh__period)
                    OR value_note IS NOT NULL)
                """ if scoped else "true"
        batch = f"SELECT * FROM marts.fct_indicator_value WHERE {where}"
        rows = con.execute(f"SELECT count(*) FROM ({batch})").fetchone()[0]
        if scoped and not rows:
            # the build rewrote nothing; the mart's last check still stands, and is recorded again
            # (as of now) when it passed, since publishing wants a check newer than the last build
            last = con.execute("SELECT success FROM raw.check_result WHERE suite = 'fct_indicator_value' "
                               "ORDER BY checked_at DESC LIMIT 1").fetchone()
            if last and last[0]:
                _record_check(con, "fct_indicator_value", 0, QualityReport(()))
            return "no indicator values were rebuilt; nothing new to check"
        if scoped:
            # the rows set down once: GX sends a dozen metric queries, and each would otherwise
            # evaluate the scope's semi-joins over the whole mart again. In an in-memory database
            # (GX's cursors see it, as they would not a TEMP table): a month's million rows were
            # written to the warehouse file and checkpointed only to be dropped
            con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {CHECK_BATCH_DB}")
            con.execute(f"CREATE OR REPLACE TABLE {CHECK_BATCH_DB}.fct_indicator_value AS {batch}")
            batch = f"SELECT * FROM {CHECK_BATCH_DB}.fct_indicator_value"
        try:
            report = validate_queries(con, settings.gx_dir, {"fct_indicator_value": batch})
        finally:
            if scoped:
                con.execute(f"DETACH DATABASE IF EXISTS {CHECK_BATCH_DB}")
        _record_check(con, "fct_indicator_value", rows, report)
    if not report.success:
        raise ChecksFailed("fct_indicator_value failed its checks; not published:\n  "
                           + "\n  ".join(report.failures()))
    return f"{rows} indicator values passed" + (" (those the last build wrote)" if scoped else "")
