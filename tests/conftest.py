"""Shared fixtures: a small reference geography and population small enough to count by hand."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

SHARED_REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"

# Two LADs of Thames Valley, two LSOAs each (synthetic LSOA codes), all in one PFA.
MINI_LSOAS = [
    # lsoa21_code, lsoa21_name, lad_code, lad_name, population (all ages)
    ("E01090001", "Reading 001A", "E06000038", "Reading", 1500),
    ("E01090002", "Reading 001B", "E06000038", "Reading", 2000),
    ("E01090003", "Slough 001A", "E06000039", "Slough", 1800),
    ("E01090004", "Slough 001B", "E06000039", "Slough", 2200),
]
# population-weighted centroids (latitude, longitude) of the four LSOAs
MINI_CENTROIDS = {"E01090001": (51.4550, -0.9800), "E01090002": (51.4600, -0.9500),
                  "E01090003": (51.5100, -0.6000), "E01090004": (51.5050, -0.5700)}
MINI_LADS = [
    ("E06000038", "Reading", "E22000309", "Reading"),
    ("E06000039", "Slough", "E22000310", "Slough"),
]


def write_mini_reference(folder: Path) -> Path:
    """ONS lookups and a mid-2024 population file in their published layouts."""
    ons = folder / "ons"
    ons.mkdir(parents=True, exist_ok=True)
    (ons / "LSOA21_WD24_LAD24_EW_LU.csv").write_text(
        "LSOA21CD,LSOA21NM,WD24CD,WD24NM,LAD24CD,LAD24NM,ObjectId\n"
        + "".join(f"{c},{n},E05090001,Ward,{lad},{ladn},{i}\n"
                  for i, (c, n, lad, ladn, _) in enumerate(MINI_LSOAS, 1)))
    (ons / "LAD24_CSP24_PFA24_EW_LU.csv").write_text(
        "\ufeffLAD24CD,LAD24NM,CSP24CD,CSP24NM,PFA24CD,PFA24NM,ObjectId\n"
        + "".join(f"{lad},{n},{csp},{cspn},E23000029,Thames Valley,{i}\n"
                  for i, (lad, n, csp, cspn) in enumerate(MINI_LADS, 1)))
    (ons / "LAD24_RGN24_EN_LU.csv").write_text(
        "LAD24CD,LAD24NM,RGN24CD,RGN24NM,ObjectId\n"
        + "".join(f"{lad},{n},E12000008,South East,{i}\n" for i, (lad, n, _, _) in enumerate(MINI_LADS, 1)))
    (ons / "OA21_LSOA21_MSOA21_LAD22_EW_LU.csv").write_text(
        "OA21CD,LSOA21CD,LSOA21NM,MSOA21CD,MSOA21NM,ObjectId\n"
        "E00900001,E01090001,Reading 001A,E02090001,Reading 001,1\n"
        "E00900002,E01090001,Reading 001A,E02090001,Reading 001,2\n"
        "E00900003,E01090002,Reading 001B,E02090001,Reading 001,3\n"
        "E00900004,E01090003,Slough 001A,E02090002,Slough 001,4\n"
        "E00900005,E01090004,Slough 001B,E02090002,Slough 001,5\n")
    # the population-weighted centroids' CSV export: x = longitude, y = latitude
    (ons / "LSOA_PopCentroids_EW_2021_V4.csv").write_text(
        "FID,LSOA21CD,GlobalID,x,y\n"
        + "".join(f"{i},{code},{{0000-{i}}},{lon},{lat}\n"
                  for i, (code, (lat, lon)) in enumerate(MINI_CENTROIDS.items(), 1)))
    # LSOA 2011 → 2021: E01190001 split into A and B; E01190002 and E01190003 merged into C;
    # D unchanged (same code in both vintages)
    (ons / "LSOA11_LSOA21_LAD22_EW_LU.csv").write_text(
        "F_LSOA11CD,LSOA11NM,CHGIND,LSOA21CD,LSOA21NM,LAD22CD,LAD22NM,ObjectId\n"
        "E01190001,Reading 001X,S,E01090001,Reading 001A,E06000038,Reading,1\n"
        "E01190001,Reading 001X,S,E01090002,Reading 001B,E06000038,Reading,2\n"
        "E01190002,Slough 001Y,M,E01090003,Slough 001A,E06000039,Slough,3\n"
        "E01190003,Slough 001Z,M,E01090003,Slough 001A,E06000039,Slough,4\n"
        "E01090004,Slough 001B,U,E01090004,Slough 001B,E06000039,Slough,5\n")
    pop = folder / "population"
    pop.mkdir(parents=True, exist_ok=True)
    ages = [f"F{a}" for a in range(91)] + [f"M{a}" for a in range(91)]
    rows = []
    for code, name, lad, ladn, total in MINI_LSOAS:
        # one woman and one man at every age (so every age band a rate divides by has people),
        # a tenth more at age 20, and the rest at age 30, so the total is easy to see
        counts = [1] * len(ages)
        young = total // 10
        counts[ages.index("F20")] += young // 2
        counts[ages.index("M20")] += young - young // 2
        rest = total - young - len(ages)
        counts[ages.index("F30")] += rest // 2
        counts[ages.index("M30")] += rest - rest // 2
        rows.append(",".join([lad, ladn, code, name, str(total), *map(str, counts)]))
    (pop / "sapelsoasyoa_mid2024.csv").write_text(
        "LAD 2023 Code,LAD 2023 Name,LSOA 2021 Code,LSOA 2021 Name,Total," + ",".join(ages) + "\n"
        + "\n".join(rows) + "\n")
    return folder


STREET_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
                 "LSOA code,LSOA name,Crime type,Last outcome category,Context\n")


def crime_id(month: str, n: int) -> str:
    """A 64-hex Crime ID unique across months, like police.uk's."""
    return f"{int(month.replace('-', '')) * 100_000 + n:064x}"


def street_row(n: int, month: str, lsoa: tuple[str, str] | None, crime_type: str) -> str:
    crime_id_ = "" if crime_type == "Anti-social behaviour" else crime_id(month, n)
    if lsoa is None:
        return f"{crime_id_},{month},Thames Valley Police,Thames Valley Police,,,No Location,,,{crime_type},,\n"
    outcome = "" if crime_type == "Anti-social behaviour" else "Under investigation"
    return (f'{crime_id_},{month},Thames Valley Police,Thames Valley Police,-0.971000,51.455000,'
            f'"On or near Parking Area, Broad Street",{lsoa[0]},{lsoa[1]},{crime_type},{outcome},\n')


@contextlib.contextmanager
def private_warehouse(root: Path):
    """A module fixture's own warehouse under `root` (VRU_WAREHOUSE_DIR), restored afterwards."""
    previous = os.environ.get("VRU_WAREHOUSE_DIR")
    os.environ["VRU_WAREHOUSE_DIR"] = str(root / "warehouse")
    try:
        yield root / "warehouse"
    finally:
        if previous is None:
            os.environ.pop("VRU_WAREHOUSE_DIR", None)
        else:
            os.environ["VRU_WAREHOUSE_DIR"] = previous


@pytest.fixture
def warehouse_env(tmp_path, monkeypatch):
    """A private warehouse directory for one test."""
    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    from ingestion.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """`vru demo` into a private warehouse, once per test session (it takes about two minutes):
    test_demo_pipeline.py checks the run, test_disclosure_attack.py attacks its published file."""
    from test_demo_pipeline import run_vru

    warehouse = tmp_path_factory.mktemp("demo") / "warehouse"
    return warehouse, run_vru(["demo"], warehouse)


# `make test` runs the suite on two workers (pytest-xdist, --dist loadscope). Each module's tests
# go to one worker, so its module fixtures are built once; the two modules sharing the session's
# demo run go together. (xdist's own `xdist_group` marks do nothing under pytest 9.2: xdist 3.8
# renames the node id through an attribute pytest no longer reads, so the scheduler is ours.)
SHARED_DEMO = {"test_demo_pipeline", "test_disclosure_attack"}
# The modules that build whole warehouses or start Airflow, costliest first (from `--durations`):
# handed out first, so the two workers finish together.
COSTLIEST_FIRST = ["test_demo_pipeline", "test_real_airflow", "test_incremental_build",
                   "test_dfe_indicators", "test_source_declaration", "test_disclosure_attack",
                   "test_police_monthly_dag", "test_nothing_new", "test_ae_monthly_dag", "test_dfe_yearly_dag",
                   "test_report", "test_bi_connect", "test_export", "test_pipeline_sources",
                   "test_indicator_engine", "test_ae_indicators", "test_indicator_inequality",
                   "test_indicator_trend", "test_indicator_dsr",
                   "test_crash_safety", "test_published_metadata", "test_coverage",
                   "test_quality_gate", "test_reference_geography", "test_force_crime",
                   "test_violence_indicator"]


def _module_scope(module: str) -> str:
    return "demo" if module in SHARED_DEMO else module


def pytest_collection_modifyitems(config, items):
    rank = {m: i for i, m in enumerate(COSTLIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__, len(rank)))  # stable within a module


@pytest.hookimpl(optionalhook=True)   # absent when xdist is not loaded (`-p no:xdist`)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        """One module (or the demo pair) per work unit, handed out in collection order."""

        def _split_scope(self, nodeid: str) -> str:
            return _module_scope(Path(nodeid.split("::", 1)[0]).stem)

    config.option.loadscopereorder = False
    return ModuleScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _quiet_env():
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    yield
