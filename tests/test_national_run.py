"""A national run on real files (../shared/realdata): the LSOA 2021 spine of England and Wales built
from ONS's published lookups (LSOA → current district, every district code since 2011 with its
successor, the 2017 LAD → CSP → PFA lookup, the LSOA 2011 → 2021 best fit), and every real
police.uk street file loaded. Expected values are worked out here from the CSV files with
Python's csv module, never through the project's code."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from conftest import SHARED_REALDATA, private_warehouse

ONS = SHARED_REALDATA / "ons"
POLICE = SHARED_REALDATA / "police"
CSP_2017 = ("Local_Authority_District_to_Community_Safety_Partnerships_to_Police_Force_Areas"
            "__January_2017__Lookup_in_England_and_Wales_Version_2.csv")
LOOKUPS = ["lsoa21_lad_utla_rgn_lookup.csv", "la_all_codes.csv", CSP_2017,
           "lsoa11_to_lsoa21_best_fit_lookup_england_wales_v2.csv"]
POPULATION = ["lsoa_mye_16_20.csv", "mid-year_2024_population_estimates_lsoa.csv"]

pytestmark = pytest.mark.skipif(
    not (ONS.is_dir() and POLICE.is_dir()),
    reason="../shared/realdata is absent (a user's clone has no shared folder): no national run on real files")

# only what the checks below read (dbt build of the whole project is not needed)
SELECT = ["build", "--select", "+int_area_hierarchy", "+int_police__crime_lsoa_month", "+int_population__lsoa_year",
          "--indirect-selection", "cautious"]


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    root = tmp_path_factory.mktemp("national")
    landing = root / "landing"
    (landing / "ons").mkdir(parents=True)
    (landing / "population").mkdir()
    for name in LOOKUPS:                       # linked, never copied into the project
        (landing / "ons" / name).symlink_to(ONS / name)
    for name in POPULATION:
        (landing / "population" / name).symlink_to(SHARED_REALDATA / "population" / name)
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        pipeline.load_reference(landing)
        loaded = pipeline.ingest_police_street(POLICE)
        run_dbt(SELECT)
        return get_settings().working_db, loaded


def query(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def expected_spine() -> dict[str, tuple]:
    """Each LSOA 2021 → (district, upper tier, region, PFA, country), from the CSV files alone."""
    codes = read(ONS / "la_all_codes.csv")
    successor = {r["LADCD"]: r["LADCD_ACTIVE"] for r in codes}
    current = {r["LADCD"]: r for r in codes if r["Current"] == "TRUE"}
    pfas: dict[str, set[str]] = {}
    for r in read(ONS / CSP_2017):
        pfas.setdefault(successor.get(r["LAD17CD"], r["LAD17CD"]), set()).add(r["PFA17CD"])
    spine = {}
    for r in read(ONS / "lsoa21_lad_utla_rgn_lookup.csv"):
        lad = successor.get(r["LADCD_ACTIVE"], r["LADCD_ACTIVE"])
        wales = r["LSOA21CD"].startswith("W")
        (pfa,) = pfas[lad]                      # one force area per current district
        spine[r["LSOA21CD"]] = (lad, current[lad]["UTLACD"], "W99999999" if wales else current[lad]["RGNCD"],
                                pfa, "W92000004" if wales else "E92000001")
    return spine


def test_every_lsoa_of_england_and_wales_has_its_parents(national):
    db, _ = national
    expected = expected_spine()
    assert len(expected) == 35672
    got = query(db, """SELECT lsoa21_code, lad_code, utla_code, region_code, pfa_code, country_code
                       FROM intermediate.int_area_hierarchy""")
    assert {r[0]: r[1:] for r in got} == expected
    assert all(None not in r for r in got)
    # Barnsley's LSOAs carry its pre-2024 code in the LSOA lookup and land on today's district
    assert query(db, """SELECT DISTINCT lad_code FROM intermediate.int_area_hierarchy
                        WHERE lsoa21_name LIKE 'Barnsley %'""") == [("E08000038",)]
    assert query(db, "SELECT count(DISTINCT pfa_code), count(DISTINCT region_code) FROM intermediate.int_area_hierarchy"
                 ) == [(43, 10)]    # 42 force areas of England and Wales + City of London; 9 regions + Wales


def test_the_2017_lookup_keys_districts_by_code_whatever_their_names(national):
    db, _ = national
    by_code = {r["LAD17CD"]: r["LAD17NM"] for r in read(ONS / CSP_2017)}
    current = {r["LADCD"]: r["LADNM"] for r in read(ONS / "la_all_codes.csv") if r["Current"] == "TRUE"}
    renamed = {c for c in by_code if c in current and by_code[c] != current[c]}
    assert renamed                                  # names differ between vintages in the real files
    got = dict(query(db, "SELECT lad_code, current_lad_name FROM intermediate.int_lad_code_map"))
    assert {c: got[c] for c in renamed} == {c: current[c] for c in renamed}
    assert query(db, "SELECT count(*) - count(DISTINCT lad_code) FROM intermediate.int_lad_code_map") == [(0,)]


def independent_street_counts() -> Counter:
    """Crimes per (LSOA 2021, crime type, month) counted from the street CSV files: identical
    rows repeated under one Crime ID count once; these files (2018-10 to 2019-01) carry LSOA 2011
    codes, taken to LSOAs 2021 by the best-fit lookup (one LSOA 2021 per LSOA 2011)."""
    best_fit = {r["LSOA11CD"]: r["LSOA21CD"] for r in read(ONS / "lsoa11_to_lsoa21_best_fit_lookup_england_wales_v2.csv")}
    counts: Counter = Counter()
    for path in sorted(POLICE.glob("*/*-street.csv")):
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [tuple(r) for r in csv.reader(handle)][1:]
        seen = set()
        for row in rows:
            crime_id, month, lsoa, crime_type = row[0], row[1], row[7], row[9]
            if crime_id:
                if row in seen:
                    continue
                seen.add(row)
            if lsoa:
                assert lsoa in best_fit, f"{path.name}: {lsoa} is not an LSOA 2011"
                counts[(best_fit[lsoa], crime_type, f"{month}-01")] += 1
    return counts


def test_street_counts_per_lsoa_crime_type_and_month_equal_the_files(national):
    db, loaded = national
    streets = [r for r in loaded.results if r.source == "police_street"]
    assert len(streets) == len(list(POLICE.glob("*/*-street.csv"))) == 9
    assert all(r.outcome == "loaded" for r in streets)
    expected = independent_street_counts()
    got = query(db, """SELECT lsoa21_code, crime_type, strftime(month_start, '%Y-%m-%d'), sum(crime_count)
                       FROM intermediate.int_police__crime_lsoa_month WHERE lsoa21_code IS NOT NULL
                       GROUP BY ALL""")
    assert {(a, t, m): n for a, t, m, n in got} == dict(expected)
    assert sum(expected.values()) > 60_000


def test_lsoa11_population_reaches_lsoas_2021_with_its_totals(national):
    """West Sussex's LSOA 2011 estimates go through the best-fit lookup (whole LSOAs), so each
    year's total is the file's; Trafford's LSOA 2021 mid-2024 file is its published LA total."""
    db, _ = national
    expected: Counter = Counter()
    for r in read(SHARED_REALDATA / "population" / "lsoa_mye_16_20.csv"):
        for year in range(2016, 2021):
            expected[year] += int(r[str(year)])
    expected[2024] = 241025
    got = query(db, "SELECT population_year, sum(population_all_ages) FROM intermediate.int_population__lsoa_year "
                    "GROUP BY ALL")
    assert dict(got) == dict(expected)
