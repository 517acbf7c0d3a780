"""ONS lookups and population in their published layouts: vintage read from the header,
refusals that leave the reference data in use untouched."""

from __future__ import annotations

import duckdb
import pytest

from conftest import SHARED_REALDATA, write_mini_reference
from ingestion.load import FileRejected
from ingestion.sources.ons import load_lookup, load_population


@pytest.fixture
def loaded(tmp_path):
    landing = write_mini_reference(tmp_path / "landing")
    con = duckdb.connect()
    for path in sorted((landing / "ons").glob("*.csv")):
        load_lookup(con, path)
    load_population(con, landing / "population" / "sapelsoasyoa_mid2024.csv")
    yield con, landing
    con.close()


def snapshot(con, table):
    return con.execute(f"SELECT * EXCLUDE (_loaded_at) FROM {table} ORDER BY ALL").fetchall()


def test_vintage_comes_from_the_header_not_the_code(loaded, tmp_path):
    con, landing = loaded
    assert con.execute("SELECT DISTINCT _vintage FROM raw.ons_lad_csp_pfa").fetchall() == [("24",)]
    older = tmp_path / "LAD23_CSP23_PFA23_EW_LU.csv"
    older.write_text((landing / "ons/LAD24_CSP24_PFA24_EW_LU.csv").read_text(encoding="utf-8-sig")
                     .replace("24CD", "23CD").replace("24NM", "23NM"))
    load_lookup(con, older)
    assert con.execute("SELECT DISTINCT _vintage FROM raw.ons_lad_csp_pfa").fetchall() == [("23",)]


def test_lookup_with_missing_column_is_refused_and_previous_stays(loaded, tmp_path):
    con, landing = loaded
    before = snapshot(con, "raw.ons_lsoa21_lad")
    bad = tmp_path / "LSOA21_WD24_LAD24_EW_LU.csv"
    text = (landing / "ons/LSOA21_WD24_LAD24_EW_LU.csv").read_text()
    bad.write_text(text.replace("LAD24CD", "LAD_CODE"))
    with pytest.raises(FileRejected, match=r"missing column\(s\) 'LADYYCD'; columns not recognised: 'LAD_CODE'"):
        load_lookup(con, bad)
    assert snapshot(con, "raw.ons_lsoa21_lad") == before


def test_duplicate_lsoa_in_a_lookup_is_refused_naming_rows(loaded, tmp_path):
    con, landing = loaded
    lines = (landing / "ons/LSOA21_WD24_LAD24_EW_LU.csv").read_text().splitlines()
    bad = tmp_path / "LSOA21_WD24_LAD24_EW_LU.csv"
    bad.write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(FileRejected, match=r"lsoa21_code \('E01090001',\) appears 2 times \(rows 1 and 5\)"):
        load_lookup(con, bad)


def test_population_total_must_equal_its_ages(loaded, tmp_path):
    con, landing = loaded
    lines = (landing / "population/sapelsoasyoa_mid2024.csv").read_text().splitlines()
    lines[2] = lines[2].replace(",2000,", ",2001,", 1)           # LSOA B's Total off by one
    bad = tmp_path / "sapelsoasyoa_mid2024.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(FileRejected, match="row 2: rule 'total_equals_sum_of_ages'"):
        load_population(con, bad)


def test_population_is_long_by_lsoa_sex_age_and_year(loaded):
    con, _ = loaded
    assert con.execute("""SELECT lsoa21_code, year, sum(population), count(*) FROM raw.ons_population_lsoa
                          GROUP BY ALL ORDER BY 1""").fetchall() == [
        ("E01090001", 2024, 1500, 182), ("E01090002", 2024, 2000, 182),
        ("E01090003", 2024, 1800, 182), ("E01090004", 2024, 2200, 182)]
    # conftest: one of each sex at every age, 150 more at age 20 and the other 1,168 at 30
    assert con.execute("SELECT sex, age, population FROM raw.ons_population_lsoa "
                       "WHERE lsoa21_code = 'E01090001' AND population > 1 ORDER BY sex, age").fetchall() == [
        ("F", 20, 76), ("F", 30, 585), ("M", 20, 76), ("M", 30, 585)]


REAL_POPULATION = SHARED_REALDATA / "population"


@pytest.mark.skipif(not REAL_POPULATION.is_dir(), reason="../shared/realdata is absent (a user's clone has no shared folder)")
def test_real_long_by_sex_population_files_load_and_agree_with_the_csv():
    """Trafford mid-2024 by LSOA and by LA (long-by-sex layout): F and M rows per area equal the
    file's own all_ages, and the LSOAs add up to the published LA figure by sex."""
    import csv

    con = duckdb.connect()
    lsoa_file = REAL_POPULATION / "mid-year_2024_population_estimates_lsoa.csv"
    la_file = REAL_POPULATION / "mid-year_2024_population_estimates_local_authority.csv"
    for path in (lsoa_file, la_file):
        assert load_population(con, path).outcome == "loaded"
    with open(lsoa_file, newline="") as handle:
        expected = {(r["area_code"], r["sex"][0]): int(r["all_ages"]) for r in csv.DictReader(handle)
                    if r["sex"] != "Persons"}
    got = con.execute("""SELECT area_code, sex, sum(population) FROM raw.ons_population_area
                         WHERE geography = 'LSOA' GROUP BY ALL""").fetchall()
    assert {(a, s): n for a, s, n in got} == expected
    by_geography = dict(con.execute("""SELECT geography || sex, sum(population) FROM raw.ons_population_area
                                       GROUP BY ALL""").fetchall())
    assert by_geography["LSOAF"] == by_geography["Local authorityF"] == 123369
    assert by_geography["LSOAM"] == by_geography["Local authorityM"] == 117656


REAL_ONS = SHARED_REALDATA / "ons"


@pytest.mark.skipif(not REAL_ONS.is_dir(), reason="../shared/realdata is absent (a user's clone has no shared folder)")
def test_real_ons_lookups_and_imd_load_with_their_vintages():
    import csv

    from ingestion.sources.ons import load_imd

    con = duckdb.connect()
    best_fit = REAL_ONS / "lsoa11_to_lsoa21_best_fit_lookup_england_wales_v2.csv"
    csp = REAL_ONS / ("Local_Authority_District_to_Community_Safety_Partnerships_to_Police_Force_Areas"
                      "__January_2017__Lookup_in_England_and_Wales_Version_2.csv")
    imd = SHARED_REALDATA / "deprivation" / "lsoa11_imd19_OSGB1936.csv"
    assert load_lookup(con, best_fit).vintage == "22"
    assert load_lookup(con, csp).vintage == "17"
    assert load_imd(con, imd).outcome == "loaded"
    with open(best_fit, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert con.execute("SELECT count(*), count(DISTINCT lsoa11_code) FROM raw.ons_lsoa11_lsoa21").fetchone() == (
        len(rows), len({r["LSOA11CD"] for r in rows}))
    assert con.execute("SELECT csp_code, pfa_code FROM raw.ons_lad_csp_pfa WHERE lad_code = 'E07000004'").fetchone() == (
        "E22000303", "E23000029")       # Aylesbury Vale, before it became part of Buckinghamshire
    assert con.execute("SELECT count(*) FROM raw.imd2019_lsoa11 WHERE imd_decile = 0 AND lsoa11_code LIKE 'W%'").fetchone()[0] > 0


def test_lsoa_centroids_load_from_either_published_layout(loaded, tmp_path):
    con, _ = loaded
    # the x/y export of the population-weighted centroids is in the mini reference
    assert con.execute("SELECT lsoa21_code, latitude, longitude FROM raw.ons_lsoa21_centroid "
                       "WHERE lsoa21_code = 'E01090003'").fetchone() == ("E01090003", "51.51", "-0.6")
    # the boundaries' attribute table: BNG_E/BNG_N and LAT/LONG side by side; LAT/LONG are taken
    boundaries = tmp_path / "LSOA_2021_EW_BSC_V4.csv"
    boundaries.write_text("FID,LSOA21CD,LSOA21NM,LSOA21NMW,BNG_E,BNG_N,LAT,LONG,Shape__Area,GlobalID\n"
                          "1,E01090001,Reading 001A,,471000,173000,51.455,-0.98,100.5,{a}\n")
    load_lookup(con, boundaries)
    assert con.execute("SELECT lsoa21_code, lsoa21_name, latitude, longitude FROM raw.ons_lsoa21_centroid"
                       ).fetchall() == [("E01090001", "Reading 001A", "51.455", "-0.98")]


def test_lsoa_centroids_in_national_grid_metres_are_refused(loaded, tmp_path):
    con, _ = loaded
    before = snapshot(con, "raw.ons_lsoa21_centroid")
    metres = tmp_path / "LSOA_PopCentroids_EW_2021_BNG.csv"
    metres.write_text("FID,LSOA21CD,GlobalID,x,y\n1,E01090001,{a},-0.98,51.455\n2,E01090002,{b},471500,173400\n")
    with pytest.raises(FileRejected) as refused:
        load_lookup(con, metres)
    message = str(refused.value)
    assert "LSOA_PopCentroids_EW_2021_BNG.csv" in message and "latitude_in_england_wales" in message
    assert "row 2" in message and "not a BNG northing" in message
    assert snapshot(con, "raw.ons_lsoa21_centroid") == before
