"""data.police.uk street files, one month per run: the run's data interval decides the month
(interval starting 2025-03-01 → every force's 2025-03 street file), so a backfill over a range
loads each month once, and re-running a month replaces it, never doubles it.

police.uk publishes a month about six weeks after it ends: the sensor waits (rescheduling, not
holding a worker) until that month's files are in the landing folder, and each look says in the
task log which folder and file pattern it is waiting for. The dbt build is
incremental: it redoes only that month and the reporting periods containing it (plus outcome
shares in full when outcomes came), and the mart check covers the rows it rewrote.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import dag, get_current_context, task

from vru_airflow.orchestration import check_build_publish, delivery_poke_interval, landing_dir_param

logging.getLogger("great_expectations").setLevel(logging.WARNING)
log = logging.getLogger(__name__)


def _month_and_folder() -> tuple[str, Path]:
    context = get_current_context()
    return (context["data_interval_start"].strftime("%Y-%m"),
            Path(context["params"]["landing_dir"]) / "police")


@dag(
    dag_id="police_street_monthly",
    description="Load one month of police.uk street files (the data interval's month), build, check, publish",
    schedule="@monthly",
    start_date=datetime(2024, 1, 1),
    catchup=False,            # engineers backfill explicitly: `airflow backfill create --dag-id ...`
    max_active_runs=1,
    tags=["vru", "police"],
    params={"landing_dir": landing_dir_param()},
    doc_md=__doc__,
)
def police_street_monthly():
    @task.sensor(poke_interval=delivery_poke_interval(), timeout=timedelta(days=90), mode="reschedule")
    def wait_for_delivery() -> bool:
        from ingestion.sources.police_uk import street_files

        month, folder = _month_and_folder()
        found = street_files(folder, month)
        # police.uk's archive layout: YYYY-MM/YYYY-MM-<force>-street.csv, any force, any depth
        if found:
            log.info("police.uk street files for %s in %s: found %s", month, folder,
                     ", ".join(p.name for p in found))
        else:
            log.info("waiting for police.uk street files for %s: none yet matching %s/**/%s-*-street.csv",
                     month, folder, month)
        return bool(found)

    @task
    def ingest_month() -> str:
        from ingestion.pipeline import ingest_police_street

        month, folder = _month_and_folder()
        return f"{month}: " + ingest_police_street(folder, month=month).summary()

    first, _ = check_build_publish()
    wait_for_delivery() >> ingest_month() >> first


police_street_monthly()
