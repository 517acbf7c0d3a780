"""Every real reference file in ../shared/realdata (ons/, population/, deprivation/ and the LSOA
boundaries) loads as published, each through the source its column names select; contents and row
counts checked against the files read with Python's csv and json modules."""

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


# The whole real reference set (ons/, population/, deprivation/ and the boundaries) laid out as
# the reference landing folder expects it, each file with the raw table it must land in. The
# boundaries sit in ons/boundaries_lsoa21 here and in boundaries/ in the landing folder.
DEPRIVATION = SHARED_REALDATA / "deprivation"
BOUNDARIES = ONS / "boundaries_lsoa21"
RAW_TABLE = {
    "lsoa21_lad_utla_rgn_lookup.csv": "raw.ons_lsoa21_lad",
    "la_all_codes.csv": "raw.ons_lad_all_codes",
    "lsoa11_to_lsoa21_best_fit_lookup_england_wales_v2.csv": "raw.ons_lsoa11_lsoa21",
    ("Local_Authority_District_to_Community_Safety_Partnerships_to_Police_Force_Areas"
     "__January_2017__Lookup_in_England_and_Wales_Version_2.csv"): "raw.ons_lad_csp_pfa",
    "Local_authority_codes.csv": "raw.la_code_list",
    "lsoa_mye_16_20.csv": "raw.ons_population_lsoa11",
    "mid-year_2024_population_estimates_lsoa.csv": "raw.ons_population_area",
    "mid-year_2024_population_estimates_local_authority.csv": "raw.ons_population_area",
    "IoD2019.csv": "raw.imd2019_la_summary",
    "lsoa11_imd19_OSGB1936.csv": "raw.imd2019_lsoa11",
}


def expected_raw_rows(path) -> int:
    """Rows the file must give its raw table, counted from the file alone: one per CSV row, or
    one per count cell where a layout is unpivoted (a year column per LSOA 2011 × band × sex row;
    an age column per area × sex row, Persons left out as the sum of the other two); one per
    feature of a GeoJSON file."""
    import json
    import re

    if path.suffix == ".geojson":
        return len(json.loads(path.read_text(encoding="utf-8"))["features"])
    rows = read(path)
    header = list(rows[0]) if rows else []
    if path.name == "lsoa_mye_16_20.csv":
        return len(rows) * sum(1 for h in header if re.fullmatch(r"\d{4}", h))
    if path.name.startswith("mid-year_2024_population_estimates"):
        return sum(1 for r in rows if r["sex"] != "Persons") * sum(1 for h in header if re.fullmatch(r"\d+\+?", h))
    return len(rows)


@pytest.mark.skipif(not (DEPRIVATION.is_dir() and BOUNDARIES.is_dir()),
                    reason="../shared/realdata/deprivation or ons/boundaries_lsoa21 is absent")
def test_the_whole_real_reference_set_loads_as_published(tmp_path):
    """Every CSV of ons/, population/ and deprivation/ and every boundary file, through the
    normal reference load (pipeline.load_reference on a landing folder): none refused, each in
    the raw table its columns select, with as many rows as the file gives when read with csv or
    json. The IMD File 1 workbook (.xlsx) is not a reference delivery: the load reads CSVs only
    (and openpyxl is not installed), so it is left out deliberately."""
    from ingestion.pipeline import load_reference
    from ingestion.settings import Settings

    landing = tmp_path / "landing"
    files = {}
    for folder in ("ons", "population", "deprivation"):
        (landing / folder).mkdir(parents=True)
        for path in sorted((SHARED_REALDATA / folder).iterdir()):
            if path.is_file():
                (landing / folder / path.name).symlink_to(path)
                if path.suffix == ".csv":
                    files[path.name] = path
    (landing / "boundaries").symlink_to(BOUNDARIES, target_is_directory=True)
    boundaries = sorted(BOUNDARIES.glob("*.geojson"))
    assert boundaries and set(files) == set(RAW_TABLE), "a real reference file this test does not know of"

    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    report = load_reference(landing, settings)      # raises DeliveriesRejected naming any refusal
    assert report.rejections == []
    expected = {(RAW_TABLE[name], name): expected_raw_rows(path) for name, path in files.items()}
    expected |= {("raw.ons_lsoa21_boundary", p.name): expected_raw_rows(p) for p in boundaries}

    con = duckdb.connect(str(settings.working_db), read_only=True)
    try:
        loaded = con.execute("SELECT source_file, outcome, rows_loaded FROM raw.load_manifest").fetchall()
        assert sorted((f, o) for f, o, _ in loaded) == sorted((name, "loaded") for _, name in expected)
        got = {}
        for table in {t for t, _ in expected}:
            for name, rows in con.execute(f"SELECT _source_file, count(*) FROM {table} GROUP BY ALL").fetchall():
                got[(table, name)] = rows
        assert got == expected
        # the population layouts keep every person: the file's own all-ages totals (by sex)
        for name in ("mid-year_2024_population_estimates_lsoa.csv", "mid-year_2024_population_estimates_local_authority.csv"):
            total = sum(int(r["all_ages"]) for r in read(files[name]) if r["sex"] != "Persons")
            assert con.execute("SELECT sum(population) FROM raw.ons_population_area WHERE _source_file = ?",
                               [name]).fetchone()[0] == total
        # the IMD summaries and the code list, value for value
        iod = {(r["lad19cd"], r["index_domain"]): (int(r["rank_average_score"]), float(r["average_score"]))
               for r in read(files["IoD2019.csv"])}
        assert {(c, d): (rank, score) for c, d, rank, score in con.execute(
            "SELECT lad_code, index_domain, rank_average_score, average_score FROM raw.imd2019_la_summary")
            .fetchall()} == iod
        assert iod[("E06000002", "Index of Multiple Deprivation")][0] == 5         # Middlesbrough
        codes = {r["Area_Code"]: (r["Area_Name"], r["Type"], int(r["Population"]))
                 for r in read(files["Local_authority_codes.csv"])}
        assert {r[0]: r[1:] for r in con.execute(
            "SELECT area_code, area_name, area_type, population FROM raw.la_code_list").fetchall()} == codes
    finally:
        con.close()


def test_a_deprivation_file_of_no_known_layout_is_refused_by_name(tmp_path):
    from ingestion.load import FileRejected
    from ingestion.sources.imd import spec_for_deprivation

    odd = tmp_path / "imd_by_position.csv"
    odd.write_text("code,rank\nE06000001,25\n")
    with pytest.raises(FileRejected, match="known_deprivation_layout"):
        spec_for_deprivation(odd)


def test_imd_summary_ranks_beyond_the_districts_of_the_file_are_refused(tmp_path):
    from ingestion.load import FileRejected, load_file
    from ingestion.sources.imd import IMD_LA_SUMMARY

    bad = tmp_path / "IoD2019.csv"
    bad.write_text("lad19cd,lad19nm,index_domain,average_rank,rank_average_rank,average_score,rank_average_score,"
                   "proportion_bottom_decile,rank_proportion_bottom_decile,year\n"
                   "E06000001,Hartlepool,Crime,22581.98,1,35.04,1,0.36,1,2019\n"
                   "E06000002,Middlesbrough,Crime,23729.1,2,40.46,3,0.49,2,2019\n")   # rank 3 of 2 districts
    with pytest.raises(FileRejected, match="row 2: rule 'rank_average_score_in_range'"):
        load_file(duckdb.connect(), IMD_LA_SUMMARY, bad)


def test_a_lower_tier_authority_with_a_county_code_is_refused(tmp_path):
    from ingestion.load import FileRejected, load_file
    from ingestion.sources.la_codes import LA_CODE_LIST

    bad = tmp_path / "Local_authority_codes.csv"
    bad.write_text('"Area_Code","Area_Name","Type","Population"\n"E10000002","Buckinghamshire","Lower Tier Local Authority",1\n')
    with pytest.raises(FileRejected, match="rule 'lower_tier_is_a_district'"):
        load_file(duckdb.connect(), LA_CODE_LIST, bad)
