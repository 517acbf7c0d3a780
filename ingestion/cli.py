"""`vru`: the platform's command line. Long steps show progress; a failure prints what failed,
where, and what to do, and exits non-zero."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingestion import privacy, summary
from ingestion.errors import VruError
from ingestion.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Serious-violence data platform: load, build, check and publish indicators.")
# piped output (CI logs, `| tee`) has no terminal width; 110 columns keeps tables on one line
console = Console(width=None if Console().is_terminal else 110)

DEMO_DAG = "vru_pipeline"


def _dag_tasks() -> list[str]:
    """The demo DAG's tasks in order: reference data, one task per declared source with a landing
    folder (dags/vru_pipeline.py), then the shared check-build-publish tail."""
    from ingestion.sources import landed_sources
    from vru_airflow import TAIL_TASK_IDS

    return ["load_reference", *[s.task_id for s in landed_sources()], *TAIL_TASK_IDS]


def _fail(message: str, hint: str = "") -> None:
    console.print(f"[bold red]✗[/] {escape(message)}", highlight=False)
    if hint:
        console.print(f"  [yellow]→[/] {escape(hint)}", highlight=False)
    raise typer.Exit(1)


def _run_step(title: str, func, *args, passing: tuple[type[VruError], ...] = ()):
    """Run one pipeline step under a spinner, with a progress bar for each long step inside it
    (ingestion/progress.py; log lines instead when the output is not a terminal); the platform's
    own failures (VruError) become the message and its hint, except those in `passing`, raised
    for the caller to handle."""
    from ingestion import progress

    try:
        with progress.attach(console, title):
            result = func(*args)
    except VruError as error:
        if isinstance(error, passing):
            raise
        _fail(str(error), error.hint)
    summary = getattr(result, "summary", None)
    console.print(f"[green]✓[/] {title}: {summary() if callable(summary) else result}")
    return result


@app.command()
def demo(
    seed: int = typer.Option(2025, help="Random seed of the generated extracts (same seed, same files)."),
) -> None:
    """Generate Thames Valley demo extracts, run the whole pipeline through Airflow, and show the result."""
    from ingestion.demo.generate import generate_demo_extracts
    from vru_airflow.runner import run_dag_test

    settings = get_settings()
    landing = settings.demo_landing_dir
    shutil.rmtree(landing, ignore_errors=True)
    with console.status("Generating Thames Valley demo extracts…"):
        extracts = generate_demo_extracts(landing, seed=seed)
    console.print(f"[green]✓[/] Demo extracts: {len(extracts.police_files)} months of police.uk street and "
                  f"stop-and-search files, "
                  f"{len(extracts.force_crime_files)} months of the force's recorded-crime extract (with its "
                  f"column mapping), {len(extracts.ae_istv_files)} hospital ISTV submissions and "
                  f"{len(extracts.ae_ecds_files)} ECDS extracts, DfE suspensions and exclusions release files "
                  f"(by authority, school and reason) with a schools register, ONS lookups and population in {landing}",
                  soft_wrap=True)
    if privacy.configured_key() is None:
        # the demo's ECDS extracts carry made-up NHS numbers, as careless real ones do: they are
        # pseudonymised under a key that lives only as long as this run
        os.environ[privacy.KEY_ENV] = secrets.token_hex(32)
        console.print(f"[green]✓[/] Patient identifiers in the demo extracts are replaced by a keyed hash under a "
                      f"one-off key (set {privacy.KEY_ENV} to keep patient keys comparable between runs)", soft_wrap=True)

    dag_tasks = _dag_tasks()
    started = time.monotonic()
    with console.status("Airflow: starting (temporary AIRFLOW_HOME, SQLite)…") as status:
        def show(task_id: str) -> None:
            step = dag_tasks.index(task_id) + 1 if task_id in dag_tasks else "?"
            status.update(f"Airflow {DEMO_DAG}: task {step}/{len(dag_tasks)} [bold]{task_id}[/] "
                          f"({time.monotonic() - started:.0f}s)")
        outcome = run_dag_test(DEMO_DAG, {"landing_dir": str(landing)}, settings, on_task_start=show)
    for task_id in dag_tasks:
        state = outcome.task_states.get(task_id, "not run")
        mark = "[green]✓[/]" if state == "success" else "[red]✗[/]" if "fail" in state else "·"
        console.print(f"  {mark} {task_id}: {state}")
    if not outcome.succeeded:
        console.print("\n".join(outcome.error_lines) or "(no error message found)", markup=False,
                      highlight=False)
        _fail(f"the {DEMO_DAG} DAG run failed", f"full Airflow log: {outcome.log_file}")
    console.print(f"[green]✓[/] Airflow DAG {DEMO_DAG} succeeded in {time.monotonic() - started:.0f}s")

    console.print()
    summary.print_summary(settings.published_db, console)
    console.print(f"\nPatterns planted in the demo data, for you to find: a violence hotspot, LSOA "
                  f"{extracts.hotspot_lsoa21_code} ({extracts.hotspot_lsoa21_name}), about six times Thames Valley's "
                  f"rate; violence peaks each July; A&E assaults peak on Friday and Saturday nights, and most "
                  f"happen in a night-time economy hotspot in LSOA {extracts.ae_nighttime_hotspot_lsoa21_code} "
                  f"(Oxford city centre: the assault profile and the place-of-injury rate show both).", soft_wrap=True)
    console.print(f"Published warehouse (read-only, DuckDB ≥1.4): [bold]{settings.published_db}[/]", soft_wrap=True)
    index = settings.published_db.parent / "report" / "index.html"      # written by the DAG's report task
    console.print(f"Great Expectations Data Docs: [bold]{settings.data_docs_index}[/]", soft_wrap=True)
    console.print(f"Airflow log: {outcome.log_file}", soft_wrap=True)
    console.print(f"Indicator report (opens offline in a browser): [bold]{index}[/]", soft_wrap=True)


@app.command()
def status() -> None:
    """What was loaded, when, from which file, rows accepted/quarantined, and the last checks."""
    import duckdb

    from ingestion.warehouse import reader

    settings = get_settings()
    source, note = settings.working_db, ""
    if not source.exists():
        _fail(f"no warehouse at {source} yet", "run `vru demo` or the ingest commands first")
    try:
        ctx = reader(source)
        con = ctx.__enter__()
    except duckdb.IOException:
        if not settings.published_db.exists():
            _fail("the pipeline is writing and nothing has been published yet; try again shortly")
        from ingestion.warehouse import lock_holder

        holder = lock_holder(settings)
        busy = f"pipeline busy, {holder.describe()}" if holder else "pipeline busy"
        source, note = settings.published_db, f" ({busy}: showing the last published state)"
        ctx = reader(source)
        con = ctx.__enter__()
    try:
        schema = "raw." if source == settings.working_db else ""
        columns = {r[0] for r in con.execute(f"DESCRIBE {schema}load_manifest").fetchall()}
        repeated = "rows_duplicate" if "rows_duplicate" in columns else "0"   # warehouses before the column
        loads = con.execute(f"""
            SELECT source, count(*) FILTER (outcome = 'loaded'), sum(rows_loaded) FILTER (outcome = 'loaded'),
                   sum(rows_quarantined) FILTER (outcome = 'loaded'), sum({repeated}) FILTER (outcome = 'loaded'),
                   count(*) FILTER (outcome = 'rejected'), max(finished_at)
            FROM {schema}load_manifest GROUP BY source ORDER BY source""").fetchall()
        table = Table(title=f"Deliveries in {source}{note}")
        for col in ["Source", "Files loaded", "Rows accepted", "Rows quarantined", "Repeated rows", "Files rejected",
                    "Last load (UTC)"]:
            table.add_column(col, no_wrap=col in ("Source", "Last load (UTC)"))
        for row in loads:
            table.add_row(*[("" if v is None else f"{v:,}" if isinstance(v, int) else str(v)[:19]) for v in row])
        console.print(table)
        rejected = con.execute(f"""SELECT source_file, message FROM {schema}load_manifest
                                   WHERE outcome = 'rejected' ORDER BY finished_at DESC LIMIT 5""").fetchall()
        for file, message in rejected:
            console.print(f"[red]rejected[/] {escape(str(file))}: {escape(str(message))}", highlight=False)
        has_checks = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'check_result'").fetchone()[0]
        if has_checks:
            checks = con.execute(f"""SELECT suite, checked_at, success, rows_checked, failures
                FROM {schema}check_result QUALIFY row_number() OVER (PARTITION BY suite ORDER BY checked_at DESC) = 1
                ORDER BY suite""").fetchall()
            for suite, at, ok, rows, failures in checks:
                mark = "[green]passed[/]" if ok else "[red]failed[/]"
                console.print(f"check {suite}: {mark} on {rows:,} rows at {str(at)[:19]}"
                              + (f"\n  {failures}" if failures else ""))
    finally:
        ctx.__exit__(None, None, None)
    published = settings.published_db
    if published.exists():
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(published.stat().st_mtime))
        console.print(f"Published warehouse: {published} (written {stamp})")
    else:
        console.print("Published warehouse: not yet published")


def _ingest_help() -> str:
    from ingestion.sources import all_sources

    lines = ["Load delivered files into the raw layer: `vru ingest SOURCE PATH`.", "", "SOURCE is one of:", ""]
    lines += [f"- {s.cli_name}: {s.description}" for s in sorted(all_sources(), key=lambda s: s.cli_name)]
    lines += [("- reference: a folder with ons/*.csv lookups, population/*.csv estimates and "
               "deprivation/*.csv (IMD), each file's source told by its header"), ""]
    lines += [f"{s.cli_name} also loads the {', '.join(s.delivered_with)} files found beside its own."
              for s in all_sources() if s.delivered_with]
    return "\n".join(lines)


@app.command(help=_ingest_help(), no_args_is_help=True)
def ingest(
    source: str = typer.Argument(..., help="A source name (see above), e.g. police-street or force-crime"),
    path: Path = typer.Argument(..., exists=True, help="A delivered file, or a folder searched for the source's files"),
    month: str = typer.Option(None, help="Only files of this month (YYYY-MM), where the file name has one"),
) -> None:
    from ingestion import pipeline, sources

    if source == "reference":
        _run_step(f"Loading reference data from {path}", pipeline.load_reference, path)
        return
    try:
        spec = sources.get(source)
    except VruError as error:
        _fail(str(error), error.hint)
    with_them = f" (with {', '.join(spec.delivered_with)} beside them)" if spec.delivered_with else ""
    _run_step(f"Loading {spec.name}{with_them} from {path}", pipeline.ingest, spec, path, None, month)


@app.command("download-police")
def download_police(
    month: str = typer.Argument(..., help="Archive month, YYYY-MM"),
    url: str = typer.Option(None, help="URL template with {month} (default: data.police.uk archive, or VRU_POLICE_ARCHIVE_URL)"),
) -> None:
    """Download a data.police.uk archive; its street files are checked before it is unpacked."""
    from ingestion import progress
    from ingestion.downloads import DownloadFailed, fetch_police_archive

    try:
        with progress.attach(console, f"Downloading the police.uk archive for {month}…"):
            folder, files = fetch_police_archive(month, get_settings().landing_dir, url)
    except DownloadFailed as error:
        _fail(str(error), error.hint)
    console.print(f"[green]✓[/] {files} street files checked and unpacked to {folder}", soft_wrap=True)


@app.command()
def download(
    config: Path = typer.Option(None, help="TOML listing datasets and URLs (default: ingestion/reference_downloads.toml)"),
    landing: Path = typer.Option(None, help="Folder to download into (default: warehouse/landing)"),
) -> None:
    """Download the ONS reference files and the DfE exclusions release; each is checked before it
    replaces the previous version."""
    from ingestion import progress
    from ingestion.downloads import DownloadFailed, fetch, read_config

    landing = landing or get_settings().landing_dir
    failures = 0
    for spec in read_config(config, releases=True):
        try:
            with progress.attach(console, f"Downloading {spec.name}…"):
                result = fetch(spec, landing)
            state = "replaced" if result.replaced else "unchanged"
            console.print(f"[green]✓[/] {spec.name}: {result.rows:,} rows, {state} → {result.path}")
        except DownloadFailed as error:
            failures += 1
            console.print(f"[red]✗[/] {escape(str(error))}", highlight=False)
    if failures:
        _fail(f"{failures} download(s) failed; previous files are unchanged",
              "check the URLs in the downloads config, then run `vru ingest reference`")


@app.command(no_args_is_help=True)
def bootstrap(
    area: str = typer.Argument(..., help="england-wales, or a police force id (e.g. thames-valley)"),
    config: Path = typer.Option(None, help="TOML listing datasets and URLs (default: ingestion/reference_downloads.toml)"),
    police_months: str = typer.Option(None, help="Also download and load police.uk street crime for these months, "
                                      "FIRST:LAST as YYYY-MM:YYYY-MM (from LAST's archive, which holds 36 months)"),
    police_archive: str = typer.Option(None, help="Also download police.uk's archive of this month (YYYY-MM) and "
                                       "load every month in it"),
) -> None:
    """Download the reference data an area needs (each file checked before it replaces the
    previous one; a force area's rows only) into the landing folder, then load it; with
    --police-months or --police-archive, police.uk street crime too (a force area's files only)."""
    from ingestion import pipeline, progress
    from ingestion.downloads import DownloadFailed, DownloadResult, area_scope, fetch_area, read_config

    landing = get_settings().landing_dir
    police = _police_plan(police_months, police_archive) if police_months or police_archive else None
    try:
        scope, specs = area_scope(area), read_config(config)
    except DownloadFailed as error:
        _fail(str(error), error.hint)
    # a dataset with no address is used as delivered by hand, when it is there
    delivered = [s for s in specs if not s.url and (landing / s.target).exists()]
    missing = [s for s in specs if not s.url and s not in delivered]
    if missing:
        _fail(f"no URL configured for {', '.join(s.name for s in missing)} and no copy in the landing folder "
              f"({', '.join(str(landing / s.target) for s in missing)})",
              "set its url in the downloads config, or save the file there, then run `vru bootstrap` again")
    # each download is a row with its bar (rows or bytes received of those announced, then its checks)
    with progress.attach(console, f"Downloading {area}'s reference data"):
        def done(outcome):
            if isinstance(outcome, DownloadResult):
                state = "replaced" if outcome.replaced else "unchanged"
                console.print(f"[green]✓[/] {outcome.spec.name}: {outcome.rows:,} rows, {state} → "
                              f"{escape(str(outcome.path))}", highlight=False, soft_wrap=True)
            else:
                console.print(f"[red]✗[/] {escape(str(outcome))}", highlight=False)

        try:
            fetch_area([s for s in specs if s.url], landing, scope, on_done=done)
        except DownloadFailed:
            _fail(f"{area}: some downloads failed (above); previous files are unchanged and nothing was loaded",
                  "check the addresses in the downloads config or try again later")
    for spec in delivered:
        console.print(f"[yellow]·[/] {spec.name}: no URL configured, using the delivered {landing / spec.target}",
                      soft_wrap=True)
    _run_step(f"Loading {area}'s reference data from {landing}", pipeline.load_reference, landing)
    if police:
        _bootstrap_police(area, scope, *police, landing)


def _police_plan(months: str | None, archive: str | None) -> tuple[str, list[str] | None]:
    """The archive month to download and the months to load (None: every month in it), checked
    before anything is downloaded."""
    import re

    from ingestion.downloads import MONTH_PATTERN

    if archive and not re.fullmatch(MONTH_PATTERN, archive):
        _fail(f"--police-archive {archive!r}: give the month as YYYY-MM", "e.g. --police-archive 2025-03")
    wanted: list[str] | None = None
    if months:
        found = re.fullmatch(rf"({MONTH_PATTERN}):({MONTH_PATTERN})", months)
        if not found or found.group(1) > found.group(3):
            _fail(f"--police-months {months!r}: give FIRST:LAST as YYYY-MM:YYYY-MM, FIRST not after LAST",
                  "e.g. --police-months 2025-01:2025-03")
        first, last = found.group(1), found.group(3)
        span = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:])
        if span >= 36:
            _fail(f"--police-months {months}: {span + 1} months; one archive holds 36",
                  "ask for at most 36 months, or run bootstrap again for the earlier ones")
        if archive and archive < last:
            _fail(f"--police-archive {archive} does not hold {last}", "give an archive month at or after LAST")
        archive = archive or last
        wanted = [f"{(int(first[:4]) * 12 + int(first[5:]) - 1 + k) // 12}-"
                  f"{(int(first[:4]) * 12 + int(first[5:]) - 1 + k) % 12 + 1:02d}" for k in range(span + 1)]
    return archive, wanted


def _bootstrap_police(area: str, scope, archive: str, wanted: list[str] | None, landing: Path) -> None:
    """`vru download-police` for the area (its force's files only, when it is a force), then
    `vru ingest police-street` for the months asked for."""
    from ingestion import pipeline, progress
    from ingestion.downloads import DownloadFailed, fetch_police_archive
    from ingestion.sources import police_uk

    force = None if scope.national else area
    try:
        with progress.attach(console, f"Downloading the police.uk archive for {archive}…"):
            folder, files = fetch_police_archive(archive, landing, force=force)
    except DownloadFailed as error:
        _fail(str(error), error.hint)
    console.print(f"[green]✓[/] {files} {force + ' ' if force else ''}street files checked and unpacked to {folder}",
                  soft_wrap=True)
    for month in wanted or [None]:
        which = f" for {month}" if month else ""
        _run_step(f"Loading police.uk street crime{which} from {folder}", pipeline.ingest,
                  police_uk.POLICE_STREET, folder, None, month)


@app.command()
def check(
    everything: bool = typer.Option(False, "--all", help="Check the whole indicator mart, not only what the last build wrote."),
) -> None:
    """Run the Great Expectations checks on new raw deliveries and on the marts."""
    from ingestion import pipeline

    _run_step("Checking new raw deliveries", pipeline.check_raw)
    try:
        _run_step("Checking the marts", pipeline.check_marts, None, everything, passing=(pipeline.MartsNotBuilt,))
    except pipeline.MartsNotBuilt as error:     # a first day: raw data loaded, nothing built yet
        console.print(f"[yellow]·[/] Checking the marts: not built yet, nothing to check ({error})", soft_wrap=True)
        console.print(f"  [yellow]→[/] {error.hint}")


@app.command()
def build(
    full_refresh: bool = typer.Option(False, "--full-refresh",
                                      help="Rebuild every model from scratch (after upgrading the platform's models)."),
) -> None:
    """Build the dbt models (staging → intermediate → marts) with their tests. By default only
    what changed deliveries can move is rebuilt (months of new or replaced street files), and
    nothing at all when no delivery changed since the last build."""
    from ingestion.transform import build as run

    _run_step("dbt build", run, None, full_refresh)


@app.command()
def publish(
    force: bool = typer.Option(False, "--force", help="Write the published file even when nothing changed since it was."),
) -> None:
    """Publish the checked marts as the read-only warehouse file, and the HTML report beside it.
    With nothing new since the last publish, both are left as they are."""
    _publish_and_report(force)


@app.command()
def refresh() -> None:
    """Everything after loading, as the DAGs run it, each step only when something is new: checks
    on new deliveries, the dbt build, checks on the rows it rebuilt, publish and the HTML report.
    With nothing new since the last run this does no dbt work and rewrites nothing."""
    from ingestion import pipeline
    from ingestion.transform import build as run_build

    _run_step("Checking new raw deliveries", pipeline.check_raw)
    _run_step("dbt build", run_build)
    _run_step("Checking the marts", pipeline.check_marts)
    _publish_and_report()


def _publish_and_report(force: bool = False) -> None:
    from ingestion.publish import publish as run
    from ingestion.report import ReportError, write_published_report

    def publish_step() -> str:
        target = get_settings().published_db
        before = target.stat().st_mtime_ns if target.exists() else None
        published = run(force=force)
        return f"{published} (unchanged: nothing new since the last publish)" \
            if before == published.stat().st_mtime_ns else str(published)

    _run_step("Publishing the marts", publish_step)
    try:
        index = _run_step("Writing the HTML report", write_published_report)
    except ReportError as error:
        _fail(str(error))
    console.print(f"Open {escape(str(index))} in a browser.")


@app.command("export", no_args_is_help=True)
def export_(
    directory: Path = typer.Argument(..., help="Folder to write (an earlier export there is replaced whole)"),
    fmt: str = typer.Option("parquet", "--format", metavar="parquet|csv",
                            help="Format of the tables (the data dictionary and the Fingertips-style file are CSV)"),
) -> None:
    """Export the published warehouse as files for people who do not use SQL: every table as Parquet
    or CSV (indicator values one folder per indicator), a data dictionary, and the indicator values
    in OHID Fingertips' download layout. Reads the published file only, so it runs while the
    pipeline writes."""
    from ingestion.export import DICTIONARY_CSV, DICTIONARY_MD, FINGERTIPS_CSV, FORMATS, PARTITION_COLUMN
    from ingestion.export import export as run

    if fmt not in FORMATS:
        _fail(f"--format {fmt}: give {' or '.join(FORMATS)}")
    result = _run_step(f"Exporting the published warehouse to {escape(str(directory))}", run, directory, fmt)
    table = Table(title=f"Written to {escape(str(result.directory))}")
    for name, justify in [("File", "left"), ("Rows", "right"), ("What", "left")]:
        table.add_column(name, justify=justify, no_wrap=name == "File")
    for item in result.tables:
        what = item.kind if item.partitions is None else \
            f"{item.kind}, one folder per indicator ({item.partitions} × {PARTITION_COLUMN}=…/)"
        table.add_row(escape(item.path), f"{item.rows:,}", what)
    table.add_row(FINGERTIPS_CSV, f"{result.fingertips_rows:,}", "indicator values in OHID Fingertips' download layout")
    table.add_row(f"{DICTIONARY_CSV}, {DICTIONARY_MD}", "",
                  f"data dictionary: {result.dictionary_columns:,} columns with their type and description")
    console.print(table)


@app.command("report")
def report_(
    out: Path | None = typer.Option(None, "--out", help="Folder to write (default: report/ beside the published file; "
                                                         "an earlier report there is replaced whole)"),
) -> None:
    """Write a static, Fingertips-style HTML report of the published warehouse: areas, indicators (bars,
    funnel plot, trend), the police and A&E LSOA panel and a methods page. Opens offline."""
    from ingestion.report import ReportError, write_report
    from ingestion.settings import get_settings

    published = get_settings().published_db
    if not published.exists():
        _fail(f"No published warehouse at {published}", "run `vru publish` first")
    folder = out if out is not None else published.parent / "report"
    try:
        index = _run_step(f"Writing the HTML report to {escape(str(folder))}", write_report, published, folder)
    except ReportError as error:
        _fail(str(error))
    console.print(f"Open {escape(str(index))} in a browser.")


if __name__ == "__main__":
    app()
