"""Hospital A&E assault data, one month per run: every emergency department's ISTV submission and
every provider's ECDS extract for the run's data interval month (interval starting 2025-03-01 →
the 2025-03 files in <landing>/ae/istv/ and <landing>/ae/ecds/, each submission in its latest
revision `-rN`), then check, build and publish (docs/ae_data.md).

Sites submit at different times: the sensor waits (rescheduling, not holding a worker) only until
the first submission of the month is in the landing folder, never for all of them. A site or
provider that has not submitted is "not delivered" for the month in the platform's coverage,
never zero; its late submission is loaded by running the month again (clear the run, or
`vru ingest`), which leaves what was already loaded unchanged.

Direct identifiers in the files are pseudonymised with the key from the Airflow connection
`vru_pseudonymisation` (its password) or VRU_PSEUDONYMISATION_KEY in the workers' environment.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import dag, get_current_context, task

from vru_airflow.orchestration import (
    check_build_publish,
    delivery_poke_interval,
    landing_dir_param,
    pseudonymisation_key_from_connection,
)

logging.getLogger("great_expectations").setLevel(logging.WARNING)
log = logging.getLogger(__name__)


def _month_and_landing() -> tuple[str, Path]:
    context = get_current_context()
    return context["data_interval_start"].strftime("%Y-%m"), Path(context["params"]["landing_dir"])


@dag(
    dag_id="ae_monthly",
    description="Load one month of A&E ISTV submissions and ECDS extracts (the data interval's month), "
                "build, check, publish",
    schedule="@monthly",
    start_date=datetime(2024, 1, 1),
    catchup=False,            # engineers backfill explicitly: `airflow backfill create --dag-id ...`
    max_active_runs=1,
    tags=["vru", "ae", "health"],
    params={"landing_dir": landing_dir_param()},
    doc_md=__doc__,
)
def ae_monthly():
    @task.sensor(poke_interval=delivery_poke_interval(), timeout=timedelta(days=90), mode="reschedule")
    def wait_for_delivery() -> bool:
        from ingestion.pipeline import month_deliveries
        from ingestion.sources.ae import SOURCES

        month, landing = _month_and_landing()
        found = month_deliveries(list(SOURCES), landing, month)
        if any(found.values()):
            log.info("A&E submissions for %s: %s", month, "; ".join(
                f"{name}: {', '.join(p.name for p in files) or 'none yet'}" for name, files in found.items()))
        else:
            log.info("waiting for any A&E submission for %s: none yet in %s", month, "; ".join(
                f"{landing / spec.landing}/** matching {spec.file_pattern} with month {month}" for spec in SOURCES))
        return any(found.values())

    @task
    def ingest_month() -> str:
        from ingestion.pipeline import ingest_month as run
        from ingestion.sources.ae import SOURCES

        pseudonymisation_key_from_connection()
        month, landing = _month_and_landing()
        return f"{month}: " + run(list(SOURCES), landing, month).summary()

    first, _ = check_build_publish()
    wait_for_delivery() >> ingest_month() >> first


ae_monthly()
