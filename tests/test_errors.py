"""Failures are recognised by type: every platform error is a VruError with a hint, and the
Airflow runner finds them in task logs by importing the class a traceback names."""

from __future__ import annotations

from ingestion.errors import VruError


def test_platform_failures_share_one_base_with_a_hint():
    from ingestion.downloads import DownloadFailed
    from ingestion.load import FileRejected
    from ingestion.pipeline import ChecksFailed, DeliveriesRejected, NothingDelivered
    from ingestion.publish import PublishRefused
    from ingestion.sources.force_crime import MappingInvalid
    from ingestion.transform import DbtFailed
    from ingestion.warehouse import WarehouseBusy

    for error in (DownloadFailed, FileRejected, ChecksFailed, DeliveriesRejected, NothingDelivered,
                  PublishRefused, MappingInvalid, DbtFailed):
        assert issubclass(error, VruError) and error.hint, error
    assert issubclass(WarehouseBusy, VruError)
    assert VruError("x", hint="do y").hint == "do y"


def test_runner_recognises_platform_errors_by_type_not_name():
    from ingestion.pipeline import DeliveriesRejected
    from vru_airflow.runner import platform_error

    assert platform_error("ingestion.pipeline.DeliveriesRejected: 1 file(s) refused") is DeliveriesRejected
    # a name that merely looks like a failure is not one of ours
    assert platform_error("ingestion.pipeline.SomethingFailed: no such class") is None
    assert platform_error("ValueError: not ours") is None
    assert platform_error("sqlite3.IntegrityError: UNIQUE constraint failed") is None
    # a class of ours that is not a platform failure
    assert platform_error("ingestion.load.SourceSpec: not an exception") is None


def test_cli_prints_the_hint_of_a_platform_error(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ingestion.cli import app

    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    empty = tmp_path / "empty"
    empty.mkdir()
    done = CliRunner().invoke(app, ["ingest", "police-stop-search", str(empty)])
    assert done.exit_code == 1
    # the console wraps long lines (the path is long under pytest-xdist): compare words
    said = " ".join(done.output.split())
    assert "no police_stop_search files found" in said
    assert "check the path and the file names" in said
    unknown = CliRunner().invoke(app, ["ingest", "hospital", str(empty)])
    assert unknown.exit_code == 1 and "no source called 'hospital'" in unknown.output
    assert "police-street" in unknown.output
    # every declared source is listed in the help, by the name the command takes
    from ingestion.sources import all_sources

    shown = " ".join(CliRunner().invoke(app, ["ingest", "--help"], terminal_width=200).output.split())
    for spec in all_sources():
        assert f"- {spec.cli_name}: {spec.description}" in shown, spec.name
