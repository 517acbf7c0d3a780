"""DfE suspensions and permanent exclusions, one release a year: every file of the release in the
landing folder `<landing>/dfe/` (or the run's `release_dir`), loaded in order: the schools
register when there is one, the exclusions file(s) (national, regional, local authority, school
rows), the by-reason file(s); then check, build and publish (docs/dfe_data.md).

DfE publishes the release in July, for the academic year before last (July 2025: 2023/24), and
each release restates earlier years. The DAG runs once a year on 25 July; its sensor waits
(rescheduling, not holding a worker) until the folder holds an exclusions file, never for the
by-reason or register files, which are optional. A release published at another time is loaded
by triggering the DAG, optionally with `{"release_dir": "/path/to/the/release"}` (a folder holding
the release's files as EES names them; each file's source is told by its header). Loading the
same files again changes nothing: files already loaded are skipped. Triggered with
`{"download": true}`, the run first fetches the release the downloads config declares
(`ingestion/reference_downloads.toml`, or `VRU_DFE_RELEASE_URL`) into `<landing>/dfe/exclusions/`,
every file checked before the previous release there is replaced (ingestion/ees.py); otherwise the
release is put in the folder beforehand.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, get_current_context, task

from vru_airflow.orchestration import check_build_publish, delivery_poke_interval, landing_dir_param

logging.getLogger("great_expectations").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

def release_folder(params: dict) -> Path:
    """Where a run finds the release: `release_dir` when given, else the landing area's dfe/."""
    from ingestion.sources.dfe import DFE_EXCLUSIONS

    return Path(params.get("release_dir") or Path(params["landing_dir"]) / DFE_EXCLUSIONS.landing)


@dag(
    dag_id="dfe_exclusions_yearly",
    description="Load a DfE suspensions and permanent exclusions release (schools register, exclusions, "
                "by reason), build, check, publish",
    schedule="0 6 25 7 *",    # late July, once DfE's July release is out
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["vru", "dfe", "education"],
    params={
        "landing_dir": landing_dir_param(),
        "release_dir": Param(None, type=["null", "string"],
                             description="Folder holding a new release's files (optional; default: "
                                         "the landing folder's dfe/)"),
        "download": Param(False, type="boolean",
                          description="First fetch the release the downloads config declares into the "
                                      "landing folder's dfe/exclusions/ (checked before it replaces the last)"),
    },
    doc_md=__doc__,
)
def dfe_exclusions_yearly():
    @task
    def fetch_release() -> str:
        params = get_current_context()["params"]
        if not params.get("download"):
            return "not asked to download: the release is read from the folder as delivered"
        from ingestion.ees import fetch_configured_release

        result = fetch_configured_release(Path(params["landing_dir"]))
        return f"{result.path}: {result.rows} rows, {'replaced' if result.replaced else 'unchanged'}"

    @task.sensor(poke_interval=delivery_poke_interval(), timeout=timedelta(days=90), mode="reschedule")
    def wait_for_delivery() -> bool:
        from ingestion.load import discover_files
        from ingestion.sources.dfe import DFE_EXCLUSIONS

        folder = release_folder(get_current_context()["params"])
        found, refused = discover_files(DFE_EXCLUSIONS, folder) if folder.is_dir() else ([], [])
        for rejection in refused:
            log.warning("unreadable file in %s (not an exclusions file): %s", folder, rejection)
        if found:
            log.info("DfE exclusions file(s) in %s: %s", folder, ", ".join(p.name for _, p in found))
        else:
            log.info("waiting for a DfE exclusions file: none yet in %s (a .csv whose header has "
                     "geographic_level and headcount; by-reason and schools register files are optional)", folder)
        return bool(found)

    @task
    def ingest_release() -> str:
        from ingestion.pipeline import ingest_release as run
        from ingestion.sources.dfe import DFE_EXCLUSION_REASONS, DFE_EXCLUSIONS, DFE_SCHOOL_REGISTER

        folder = release_folder(get_current_context()["params"])
        report = run([DFE_SCHOOL_REGISTER, DFE_EXCLUSIONS, DFE_EXCLUSION_REASONS], folder)
        for result in report.results:
            log.info("%s: %s %s (%d rows)", result.source, result.file.name, result.outcome, result.rows_loaded)
        return f"{folder}: {report.summary()}"

    first, _ = check_build_publish()
    fetch_release() >> wait_for_delivery() >> ingest_release() >> first


dfe_exclusions_yearly()
