"""The monthly A&E DAG through Airflow: the run's data interval decides the month, each
submission loads in its latest revision, and the pseudonymisation key comes from an Airflow
connection. Expected keys are computed here with Python's own hmac, never read from the loader."""

from __future__ import annotations

import hashlib
import hmac
import json

import duckdb

from conftest import MINI_LSOAS, write_mini_reference
from ingestion import privacy
from ingestion.settings import Settings
from ingestion.sources import ae
from test_ae_sources import ECDS_HEADER, ISTV_HEADER, PATIENTS, ecds_row
from test_police_street_load import VIOLENCE, write_street
from vru_airflow.runner import run_dag_test

KEY = "a-connection-key-that-is-long-enough-9876543210"


def istv(site: str, month: str, refs: list[str]) -> str:
    """A site's ISTV submission for a month: one assault attendance per reference."""
    last = {"2025-01": "31", "2025-02": "28"}[month]
    return ISTV_HEADER + "".join(
        f"{site},{month}-01,{month}-{last},{ref},{month}-{i + 1:02d},23:30,{month}-{i + 1:02d},23:00,01,"
        f"punched outside a bar,02,High Street\n" for i, ref in enumerate(refs))


def ecds(month: str, patients) -> str:
    """An ECDS extract of provider RHW for a month, with NHS numbers and the other identifiers."""
    return ECDS_HEADER + "".join(
        ecds_row((f"{month}-{ident}", f"{month}-{day}", time, age, nhs, name, born, postcode, lsoa))
        for ident, (_, date, time, age, nhs, name, born, postcode, lsoa), day
        in zip(("A1", "A3"), patients, ("07", "22"), strict=True))


def loaded(settings):
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        return {
            "manifest": con.execute("""SELECT source, source_file, outcome FROM raw.load_manifest
                                       WHERE source LIKE 'ae_%' ORDER BY 1, 2""").fetchall(),
            "istv": con.execute("SELECT submission, revision, attendance_ref FROM raw.ae_istv ORDER BY 1, 3").fetchall(),
            "ecds": con.execute("SELECT ec_ident, patient_key FROM raw.ae_ecds ORDER BY 1").fetchall(),
        }


def test_a_run_loads_its_months_submissions_with_the_key_from_a_connection(tmp_path, monkeypatch):
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(settings.warehouse_dir))
    monkeypatch.delenv(privacy.KEY_ENV, raising=False)
    monkeypatch.delenv(privacy.KEY_FILE_ENV, raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_VRU_PSEUDONYMISATION", json.dumps({"conn_type": "generic", "password": KEY}))
    from ingestion import pipeline

    landing = write_mini_reference(tmp_path / "landing")
    istv_dir, ecds_dir = landing / "ae" / "istv", landing / "ae" / "ecds"
    istv_dir.mkdir(parents=True)
    ecds_dir.mkdir(parents=True)
    (istv_dir / "istv-RHW01-2025-01.csv").write_text(istv("RHW01", "2025-01", ["J1", "J2"]))
    (istv_dir / "istv-RHW01-2025-02.csv").write_text(istv("RHW01", "2025-02", ["F1", "F2", "F3"]))
    # February corrected: F3 withdrawn, F4 added; the correction alone is loaded
    (istv_dir / "istv-RHW01-2025-02-r2.csv").write_text(istv("RHW01", "2025-02", ["F1", "F2", "F4"]))
    # another site has not submitted February yet: the run does not wait for it
    (istv_dir / "istv-RDU50-2025-01.csv").write_text(istv("RDU50", "2025-01", ["W1"]))
    (ecds_dir / "ecds-RHW-2025-01.csv").write_text(ecds("2025-01", [PATIENTS[0], PATIENTS[2]]))
    (ecds_dir / "ecds-RHW-2025-02.csv").write_text(ecds("2025-02", [PATIENTS[0], PATIENTS[2]]))
    pipeline.load_reference(landing, settings)
    # a warehouse already holding a police month, as the A&E DAG meets it (indicators to publish)
    write_street(landing / "police", "2025-02", [(MINI_LSOAS[0][:2], VIOLENCE, 5)])
    pipeline.ingest_police_street(landing / "police", settings, month="2025-02")

    february = run_dag_test("ae_monthly", {"landing_dir": str(landing)}, settings, logical_date="2025-02-01")
    assert february.succeeded, "\n".join(february.error_lines) or february.log_file.read_text()[-5000:]

    def keyed(text: str) -> str:
        return hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest()

    expected = {
        "manifest": [("ae_ecds", "ecds-RHW-2025-02.csv", "loaded"),
                     ("ae_istv", "istv-RHW01-2025-02-r2.csv", "loaded")],
        "istv": [("istv-RHW01-2025-02", 2, "F1"), ("istv-RHW01-2025-02", 2, "F2"), ("istv-RHW01-2025-02", 2, "F4")],
        "ecds": [("2025-02-A1", keyed("nhs:9434765919")), ("2025-02-A3", keyed("nhs:4010232137"))],
    }
    assert loaded(settings) == expected
    assert settings.published_db.exists()

    # the run's load again (what a re-run of the interval does; a whole DAG re-run is proven idempotent
    # in test_police_monthly_dag.py): nothing changes
    again = pipeline.ingest_month(list(ae.SOURCES), landing, "2025-02", settings)
    assert loaded(settings) == expected, again
