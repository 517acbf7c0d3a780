"""Long steps show progress: a rich bar in a terminal, a start line, throttled periodic lines and
an end line in logs (ingestion/progress.py). No Airflow here: a fake clock and a short interval
stand in for a long step; a real load, publish and export of small files and a small warehouse
log their start and end lines with the right counts."""

from __future__ import annotations

import logging
import re
from io import StringIO

import duckdb
import pytest
from rich.console import Console

from conftest import MINI_LSOAS
from ingestion import progress
from test_downloads import lookup_spec, server  # noqa: F401  (the local HTTP server fixture)
from test_police_street_load import ROBBERY, VIOLENCE, write_street

A, B = (lsoa[:2] for lsoa in MINI_LSOAS[:2])


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def progress_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == progress.LOG.name]


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO, logger=progress.LOG.name)
    return caplog


def test_a_long_step_logs_its_start_a_line_every_interval_and_its_end(log):
    clock = FakeClock()
    reporter = progress.Reporter(every=10, clock=clock)
    with reporter.step("publish", total=100, unit="tables") as step:
        for _ in range(100):                   # one table a second, 12,345 rows each
            clock.now += 1
            step.advance(rows=12_345, nbytes=1_000_000)
    lines = progress_lines(log)
    assert lines[0] == "publish: started (100 tables)"
    periodic = lines[1:-1]
    # 100 s at most one line every 10 s: 10 lines, never one per table
    assert [int(line.rsplit(", ", 1)[1][:-2]) for line in periodic] == list(range(10, 101, 10))
    assert periodic[0] == "publish: 10/100 tables, 123.5 k rows, 10.0 MB, 10 s"
    assert periodic[-1] == "publish: 100/100 tables, 1.2 M rows, 100.0 MB, 100 s"
    assert lines[-1] == "publish: done, 100/100 tables, 1.2 M rows, 100.0 MB in 100 s"
    assert len(lines) == 12


def test_many_small_items_in_a_short_time_log_only_start_and_end(log):
    clock = FakeClock()
    with progress.Reporter(every=10, clock=clock).step("load police_street", total=50_000, unit="rows") as step:
        for _ in range(50_000):
            clock.now += 0.0001                # 5 s in all: under one interval
            step.advance()
    assert progress_lines(log) == ["load police_street: started (50.0 k rows)",
                                   "load police_street: done, 50.0 k/50.0 k rows in 5 s"]


def test_a_phase_and_a_failure_are_said(log):
    clock = FakeClock()
    with pytest.raises(RuntimeError), progress.Reporter(every=1, clock=clock).step("export", unit="files") as step:
        step.advance(rows=10)
        clock.now += 2
        step.set_phase("fct_indicator_value")
        raise RuntimeError("disk gone")
    lines = progress_lines(log)
    assert lines == ["export: started", "export (fct_indicator_value): 1 files, 10 rows, 2 s",
                     "export: stopped (RuntimeError) after 1 files, 10 rows, 2 s"]
    assert [r.levelno for r in log.records if r.name == progress.LOG.name][-1] == logging.WARNING


def test_update_sets_counts_outright_as_a_paged_download_reports_them(log):
    clock = FakeClock()
    reporter = progress.Reporter(every=5, clock=clock)
    with reporter.step("download ons_lsoa", unit="rows") as step:
        on_page = step.callback()
        for received in range(1000, 35_001, 1000):
            clock.now += 1
            on_page(received, 35_000)
    lines = progress_lines(log)
    assert lines[0] == "download ons_lsoa: started"
    assert lines[1] == "download ons_lsoa: 5,000/35.0 k rows, 5 s"
    assert lines[-1] == "download ons_lsoa: done, 35.0 k/35.0 k rows in 35 s"
    assert len(lines) == 2 + 35 // 5


def test_steps_inside_a_step_log_at_debug_only(log):
    clock = FakeClock()
    reporter = progress.Reporter(every=10, clock=clock)
    with reporter.step("load reference", total=12, unit="files") as outer:
        for n in range(12):                    # twelve small files, a layout each
            with reporter.step(f"load ons_lookup_{n}", total=1, unit="files") as inner:
                clock.now += 1
                inner.advance(rows=100)
            outer.advance(rows=100)
    assert progress_lines(log) == ["load reference: started (12 files)", "load reference: 10/12 files, 1,000 rows, 10 s",
                                   "load reference: done, 12/12 files, 1,200 rows in 12 s"]
    log.set_level(logging.DEBUG, logger=progress.LOG.name)
    with reporter.step("outer"), reporter.step("inner"):
        pass
    assert "inner: started" in [r.getMessage() for r in log.records if r.levelno == logging.DEBUG]


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("VRU_PROGRESS_LOG_SECONDS", "2.5")
    assert progress.Reporter().every == 2.5
    monkeypatch.setenv("VRU_PROGRESS_LOG_SECONDS", "soon")
    assert progress.Reporter().every == progress.LOG_EVERY_S


# --- real steps ---------------------------------------------------------------------------------

def test_loading_files_logs_its_start_and_end_with_files_rows_and_bytes(tmp_path, log):
    from ingestion.load import load_files
    from ingestion.sources.police_uk import POLICE_STREET

    jan = write_street(tmp_path, "2025-01", [(A, VIOLENCE, 30), (B, ROBBERY, 12)])
    feb = write_street(tmp_path, "2025-02", [(A, VIOLENCE, 7)])
    size = jan.stat().st_size + feb.stat().st_size
    with duckdb.connect() as con:
        results = load_files(con, POLICE_STREET, [jan, feb])
        assert [r.rows_loaded for r in results] == [42, 7]
        lines = progress_lines(log)
        assert lines[0] == "load police_street: started (2 files)"
        assert re.fullmatch(rf"load police_street: done, 2/2 files, 49 rows, {re.escape(progress.decimal(size))} "
                            r"in \d+ s", lines[-1]), lines
        assert len(lines) <= 3
        log.clear()
        load_files(con, POLICE_STREET, [jan, feb])      # unchanged files: done, nothing loaded
        assert progress_lines(log)[-1].startswith("load police_street: done, 2/2 files in ")


def test_loading_the_reference_data_logs_two_lines_not_two_per_file(tmp_path, log):
    """Reference data is a layout per file; their loads are one step in the log."""
    from conftest import write_mini_reference
    from ingestion.pipeline import load_reference
    from ingestion.settings import Settings

    write_mini_reference(tmp_path / "landing")
    files = sum(1 for _ in (tmp_path / "landing").rglob("*.csv"))
    report = load_reference(tmp_path / "landing", Settings(warehouse_dir=tmp_path / "warehouse"))
    lines = progress_lines(log)
    assert len(report.results) == files > 2 and len(lines) == 2, lines
    assert lines[0].startswith("load ") and lines[0].endswith(f": started ({files} files)")
    assert f": done, {files}/{files} files, " in lines[1]


MART_ROWS = {"tiny_area_count": 2_500, "tiny_period": 12, "tiny_empty": 0}


def test_a_download_logs_its_start_and_end_with_the_bytes_received(server, tmp_path, log):  # noqa: F811
    from ingestion.downloads import fetch

    served, base = server
    size = (served / "ons/LAD24_CSP24_PFA24_EW_LU.csv").stat().st_size
    fetch(lookup_spec(base), tmp_path / "landing")
    assert progress_lines(log) == ["download ons_lad_csp_pfa: started",
                                   f"download ons_lad_csp_pfa: done, {size} bytes/{size} bytes in 0 s"]  # 182 bytes


def test_a_failed_download_says_it_stopped(server, tmp_path, log):  # noqa: F811
    from ingestion.downloads import DownloadFailed, fetch

    _, base = server
    with pytest.raises(DownloadFailed):
        fetch(lookup_spec(base, "ons/missing.csv"), tmp_path / "landing")
    assert progress_lines(log)[-1].startswith("download ons_lad_csp_pfa: stopped (DownloadFailed) after ")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A small working warehouse (three marts of a few thousand rows, the pipeline's tables, a
    passed check of the marts) published for real; with the progress lines the publish logged.
    The analyst views are left out (they read the real marts, which need a dbt build)."""
    from ingestion import publish as publishing
    from ingestion.load import MANIFEST_DDL
    from ingestion.settings import Settings
    from ingestion.warehouse import writer

    settings = Settings(warehouse_dir=tmp_path_factory.mktemp("progress") / "warehouse")
    with writer(settings) as con:
        con.execute(MANIFEST_DDL)
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        for name, rows in MART_ROWS.items():
            con.execute(f"CREATE TABLE marts.{name} AS SELECT range AS id, 'E0' || range AS area_code "
                        f"FROM range({rows})")
        con.execute("INSERT INTO raw.check_result VALUES ('r1', 'fct_indicator_value', now()::TIMESTAMP, true, 0, NULL)")
    handler = _Collect()
    level = progress.LOG.level
    progress.LOG.addHandler(handler)
    progress.LOG.setLevel(logging.INFO)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(publishing, "PUBLISHED_VIEWS", {})
            publishing.publish(settings)
        yield settings, list(handler.lines), handler
    finally:
        progress.LOG.removeHandler(handler)
        progress.LOG.setLevel(level)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_publish_logs_its_start_and_end_with_every_table_and_its_rows(published):
    settings, lines, _ = published
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        tables = {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
    # the three marts and the two provenance tables (load_manifest, check_result: one row)
    assert tables == MART_ROWS | {"load_manifest": 0, "check_result": 1}
    assert lines[0] == "publish: started (5 tables)"
    assert re.fullmatch(r"publish: done, 5/5 tables, 2,513 rows in \d+ s", lines[-1]), lines
    assert len(lines) == 2            # a publish of seconds: its start and its end, nothing between


def test_export_logs_its_start_and_end_with_every_file(published, tmp_path, monkeypatch):
    from ingestion import export as exporting

    settings, _, handler = published
    handler.lines.clear()
    # the Fingertips-style file reads the real marts (fct_indicator_value, dim_area, …): empty here
    monkeypatch.setattr(exporting, "_export_fingertips", lambda con, path: path.write_text("") * 0)
    monkeypatch.setattr(exporting, "_fingertips_entries", lambda con, entries: [])
    result = exporting.export(tmp_path / "out", "csv", settings)
    assert len(result.tables) == 5 and result.fingertips_rows == 0
    assert handler.lines[0] == "export: started (7 files)"      # 5 tables, the Fingertips file, the dictionary
    assert re.fullmatch(r"export: done, 7/7 files, 2,513 rows in \d+ s", handler.lines[-1]), handler.lines
    assert len(handler.lines) == 2


# --- the terminal -------------------------------------------------------------------------------

def test_in_a_terminal_a_step_is_a_rich_bar_with_its_counts_and_no_log_line(log):
    out = StringIO()
    console = Console(force_terminal=True, file=out, width=120)
    with progress.attach(console, "Publishing the marts") as reporter:
        assert progress.current() is reporter and reporter.display is not None
        with progress.current().step("publish", total=4, unit="tables") as step:
            step.advance(rows=1_500_000)
            step.advance(rows=500_000)
            reporter.display.refresh()
            screen = out.getvalue()
    assert "Publishing the marts" in screen
    assert re.search(r"publish .*━.* 2/4 tables, 2\.0 M rows", screen), screen
    assert progress_lines(log) == []
    assert progress.current() is not reporter and progress.current().display is None   # detached


def test_attach_on_a_console_that_is_not_a_terminal_logs_instead(log):
    console = Console(file=StringIO(), force_terminal=False)
    with progress.attach(console, "Exporting"):
        with progress.current().step("export", total=3, unit="files") as step:
            step.advance(3)
    assert console.file.getvalue() == ""
    lines = progress_lines(log)
    assert lines[0] == "Exporting" and lines[1] == "export: started (3 files)"
    assert lines[-1].startswith("export: done, 3/3 files in ")


def test_the_cli_runs_a_step_under_a_bar_in_a_terminal(monkeypatch):
    from ingestion import cli

    out = StringIO()
    monkeypatch.setattr(cli, "console", Console(force_terminal=True, file=out, width=120))
    seen = []

    def long_step():
        reporter = progress.current()
        with reporter.step("load police_street", total=3, unit="files") as step:
            step.advance(2, rows=42_000, nbytes=3_500_000)
            reporter.display.refresh()
            seen.append(out.getvalue())
        return "3 loaded"

    assert cli._run_step("Loading police.uk street crime", long_step) == "3 loaded"
    assert re.search(r"load police_street .*━.* 2/3 files, 42\.0 k rows, 3\.5 MB", seen[0]), seen[0]
    assert "Loading police.uk street crime" in seen[0]
    assert "✓ Loading police.uk street crime: 3 loaded" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
