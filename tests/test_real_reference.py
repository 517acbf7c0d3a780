"""Every real ONS lookup and population file in ../shared/realdata/ons and /population that the
platform reads loads as published, each through the source its column names select; contents
checked against the CSV files read with Python's csv module."""

from __future__ import annotations

import csv
from collections import Counter

import duckdb
import pytest

from conftest import SHARED_REALDATA
from ingestion.sources.ons import load_lookup, load_population

ONS = SHARED_REALDATA / "ons"
POPULATION = SHARED_REALDATA / "population"
pytestmark = pytest.mark.skipif(not (ONS.is_dir() and POPULATION.is_dir()),
                                reason="../shared/realdata is absent (a user's clone has no shared folder)")

LOOKUPS = {
    "lsoa21_lad_utla_rgn_lookup.csv": "ons_lsoa21_lad",
    "la_all_codes.csv": "ons_lad_all_codes",
    "lsoa11_to_lsoa21_best_fit_lookup_england_wales_v2.csv": "ons_lsoa11_lsoa21",
    ("Local_Authority_District_to_Community_Safety_Partnerships_to_Police_Force_Areas"
     "__January_2017__Lookup_in_England_and_Wales_Version_2.csv"): "ons_lad_csp_pfa",
}
POPULATIONS = {
    "lsoa_mye_16_20.csv": "ons_population_lsoa11",
    "mid-year_2024_population_estimates_lsoa.csv": "ons_population_area",
    "mid-year_2024_population_estimates_local_authority.csv": "ons_population_area",
}


def read(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name, source", LOOKUPS.items())
def test_real_lookup_loads_through_the_source_its_columns_select(name, source):
    con = duckdb.connect()
    result = load_lookup(con, ONS / name)
    assert (result.source, result.outcome, result.rows_loaded) == (source, "loaded", len(read(ONS / name)))


def test_lsoa21_lookup_gives_every_lsoa_its_current_district():
    con = duckdb.connect()
    load_lookup(con, ONS / "lsoa21_lad_utla_rgn_lookup.csv")
    rows = read(ONS / "lsoa21_lad_utla_rgn_lookup.csv")
    got = con.execute("SELECT lsoa21_code, lad_code, utla_code, region_code FROM raw.ons_lsoa21_lad").fetchall()
    assert {r[0]: r[1:] for r in got} == {r["LSOA21CD"]: (r["LADCD_ACTIVE"], r["UTLACD"], r["RGNCD"] or None)
                                          for r in rows}
    assert sum(1 for r in got if r[0].startswith("W") and r[3] is None) == sum(1 for r in rows
                                                                             if r["LSOA21CD"].startswith("W"))


def test_every_district_code_since_2011_keeps_its_successor():
    con = duckdb.connect()
    load_lookup(con, ONS / "la_all_codes.csv")
    expected = {r["LADCD"]: (r["LADCD_ACTIVE"], r["Current"]) for r in read(ONS / "la_all_codes.csv")}
    got = con.execute("SELECT lad_code, current_lad_code, is_current FROM raw.ons_lad_all_codes").fetchall()
    assert {r[0]: r[1:] for r in got} == expected
    assert expected["E07000004"] == ("E06000060", "FALSE")     # Aylesbury Vale → Buckinghamshire (2020)


@pytest.mark.parametrize("name, source", POPULATIONS.items())
def test_real_population_layout_is_selected_by_its_columns(name, source):
    con = duckdb.connect()
    result = load_population(con, POPULATION / name)
    assert (result.source, result.outcome) == (source, "loaded")


def test_lsoa11_age_band_estimates_keep_every_count():
    """West Sussex 2016–2020 by LSOA 2011 × age band × sex: one raw row per year column, the same
    total per LSOA, sex and year as the file."""
    con = duckdb.connect()
    load_population(con, POPULATION / "lsoa_mye_16_20.csv")
    expected: Counter = Counter()
    for r in read(POPULATION / "lsoa_mye_16_20.csv"):
        for year in ("2016", "2017", "2018", "2019", "2020"):
            expected[(r["LSOA11CD"], r["Sex"][0], int(year))] += int(r[year])
    got = con.execute("""SELECT lsoa11_code, sex, year, sum(population) FROM raw.ons_population_lsoa11
                         GROUP BY ALL""").fetchall()
    assert {(a, s, y): n for a, s, y, n in got} == dict(expected)
    bands = con.execute("SELECT DISTINCT age_from, age_to FROM raw.ons_population_lsoa11 ORDER BY 1").fetchall()
    assert bands == [(a, a + 4) for a in range(0, 85, 5)] + [(85, None)]


def test_a_population_file_of_no_known_layout_is_refused_by_name(tmp_path):
    from ingestion.load import FileRejected

    odd = tmp_path / "population_by_position.csv"
    odd.write_text("code,band,sex,2019\nE01031349,0-4 years,Male,24\n")
    with pytest.raises(FileRejected, match="known_population_layout"):
        load_population(duckdb.connect(), odd)
