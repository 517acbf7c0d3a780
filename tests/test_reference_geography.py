"""Reference geography and population through dbt: roll-ups, boundary changes, LSOA 2011 → 2021
apportionment, population denominators — checked against independent counts of the files."""

from __future__ import annotations

import csv
import os
from collections import defaultdict

import duckdb
import pytest

from conftest import write_mini_reference

REFERENCE_MODELS = ["build", "--select", "+dim_area", "+fct_area_population", "+int_population__lsoa_esp_band",
                    "--indirect-selection", "cautious"]


def build_reference(landing, warehouse_dir):
    previous = os.environ.get("VRU_WAREHOUSE_DIR")
    os.environ["VRU_WAREHOUSE_DIR"] = str(warehouse_dir)
    try:
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        pipeline.load_reference(landing)
        run_dbt(REFERENCE_MODELS)
        return get_settings().working_db
    finally:
        if previous is None:
            os.environ.pop("VRU_WAREHOUSE_DIR", None)
        else:
            os.environ["VRU_WAREHOUSE_DIR"] = previous


def read(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from ingestion.demo.generate import generate_demo_extracts

    root = tmp_path_factory.mktemp("reference_demo")
    extracts = generate_demo_extracts(root / "landing")
    return extracts, build_reference(root / "landing", root / "warehouse")


@pytest.fixture(scope="module")
def changed(tmp_path_factory):
    """The mini fixture with a LAD22-vintage LSOA lookup holding one LSOA in Mendip (abolished
    in April 2023, now Somerset E06000066)."""
    root = tmp_path_factory.mktemp("reference_changed")
    landing = write_mini_reference(root / "landing")
    lookup = landing / "ons" / "LSOA21_WD24_LAD24_EW_LU.csv"
    lookup.unlink()
    (landing / "ons" / "LSOA21_WD22_LAD22_EW_LU.csv").write_text(
        "LSOA21CD,LSOA21NM,LAD22CD,LAD22NM\n"
        "E01090001,Reading 001A,E06000038,Reading\nE01090002,Reading 001B,E06000038,Reading\n"
        "E01090003,Slough 001A,E06000039,Slough\nE01090004,Slough 001B,E06000039,Slough\n"
        "E01090005,Mendip 001A,E07000187,Mendip\n")
    csp = landing / "ons" / "LAD24_CSP24_PFA24_EW_LU.csv"
    csp.write_text(csp.read_text(encoding="utf-8-sig")
                   + "E06000066,Somerset,E22000369,Somerset,E23000036,Avon and Somerset,3\n")
    region = landing / "ons" / "LAD24_RGN24_EN_LU.csv"
    region.write_text(region.read_text() + "E06000066,Somerset,E12000009,South West,3\n")
    population = landing / "population" / "sapelsoasyoa_mid2024.csv"
    counts = ["0"] * 182
    counts[30] = "600"                                  # F30
    counts[91 + 30] = "400"                             # M30
    population.write_text(population.read_text()
                          + ",".join(["E07000187", "Mendip", "E01090005", "Mendip 001A", "1000", *counts]) + "\n")
    return build_reference(landing, root / "warehouse")


def query(db, sql, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_every_lsoa_rolls_up_to_exactly_the_lookups_parents(demo):
    extracts, db = demo
    lad_of = {r["LSOA21CD"]: r["LAD24CD"] for r in read(extracts.lookup_files["lsoa21_lad"])}
    msoa_of = {r["LSOA21CD"]: r["MSOA21CD"] for r in read(extracts.lookup_files["lsoa21_msoa21"])}
    csp_pfa = {r["LAD24CD"]: (r["CSP24CD"], r["PFA24CD"]) for r in read(extracts.lookup_files["lad_csp_pfa"])}
    upper = {r["LAD24CD"]: (r["CTYUA24CD"], r["RGN24CD"], r["CTRY24CD"]) for r in read(extracts.lookup_files["lad_hierarchy"])}
    expected = {lsoa: (msoa_of[lsoa], lad, upper[lad][0], *csp_pfa[lad], upper[lad][1], upper[lad][2])
                for lsoa, lad in lad_of.items()}
    got = query(db, """SELECT area_code, parent_msoa_code, parent_lad_code, parent_utla_code, parent_csp_code,
                              parent_pfa_code, parent_region_code, parent_country_code
                       FROM marts.dim_area WHERE area_type = 'lsoa'""")
    assert {r[0]: r[1:] for r in got} == expected
    assert all(None not in r for r in got)


def test_each_level_is_present_with_its_parents(demo):
    _, db = demo
    levels = dict(query(db, "SELECT area_type, count(*) FROM marts.dim_area GROUP BY ALL"))
    assert levels["lad"] == 13 and levels["csp"] == 13 and levels["pfa"] == 1
    assert levels["utla"] == 9              # 8 unitaries + Oxfordshire County Council
    assert levels["region"] == 1 and levels["country"] == 1
    assert query(db, """SELECT parent_utla_code, parent_pfa_code, parent_region_code FROM marts.dim_area
                        WHERE area_code = 'E07000178' AND area_type = 'lad'""") == [("E10000025", "E23000029", "E12000008")]


def test_lad_and_msoa_population_equal_the_sum_of_their_lsoas(demo):
    extracts, db = demo
    lad_of = {r["LSOA21CD"]: r["LAD24CD"] for r in read(extracts.lookup_files["lsoa21_lad"])}
    msoa_of = {r["LSOA21CD"]: r["MSOA21CD"] for r in read(extracts.lookup_files["lsoa21_msoa21"])}
    by_lad, by_msoa, aged_10_24 = defaultdict(int), defaultdict(int), defaultdict(int)
    for row in read(extracts.population_files[0]):
        code = row["LSOA 2021 Code"]
        by_lad[lad_of[code]] += int(row["Total"])
        by_msoa[msoa_of[code]] += int(row["Total"])
        aged_10_24[lad_of[code]] += sum(int(row[f"{s}{a}"]) for s in "FM" for a in range(10, 25))
    got = query(db, """SELECT area_code, area_type, population_all_ages, population_aged_10_24
                       FROM marts.fct_area_population WHERE population_year = 2024 AND area_type IN ('lad', 'msoa')""")
    assert {c: p for c, t, p, _ in got if t == "lad"} == dict(by_lad)
    assert {c: p for c, t, p, _ in got if t == "msoa"} == dict(by_msoa)
    assert {c: y for c, t, _, y in got if t == "lad"} == dict(aged_10_24)


def test_esp_bands_cover_every_age_once(demo):
    _, db = demo
    rows = query(db, """SELECT count(DISTINCT esp_band), sum(population) FROM intermediate.int_population__lsoa_esp_band""")
    total = query(db, "SELECT sum(population_all_ages) FROM intermediate.int_population__lsoa_year")[0][0]
    assert rows == [(19, total)]


def test_imd_decile_reaches_lsoa21_most_deprived_of_merged(demo):
    extracts, db = demo
    decile11 = {r["LSOA code (2011)"]:
                int(r["Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"])
                for r in read(extracts.imd_file)}
    expected = defaultdict(lambda: 10)
    for r in read(extracts.lookup_files["lsoa11_lsoa21"]):
        expected[r["LSOA21CD"]] = min(expected[r["LSOA21CD"]], decile11[r["F_LSOA11CD"]])
    got = dict(query(db, "SELECT area_code, imd_decile FROM marts.dim_area WHERE area_type = 'lsoa'"))
    assert got == dict(expected)


def test_split_lsoa11_apportions_by_population_and_keeps_the_total(changed):
    # E01190001 was split into A (population 1,500) and B (2,000): a count of 7 becomes
    # 7 × 1500/3500 = 3 and 7 × 2000/3500 = 4. Merged E01190002 and E01190003 each go whole to C.
    weights = query(changed, """SELECT lsoa11_code, lsoa21_code, weight FROM intermediate.int_lsoa11_to_lsoa21_weight
                                ORDER BY ALL""")
    assert [(a, b, round(w, 6)) for a, b, w in weights] == [
        ("E01090004", "E01090004", 1.0),
        ("E01190001", "E01090001", round(1500 / 3500, 6)), ("E01190001", "E01090002", round(2000 / 3500, 6)),
        ("E01190002", "E01090003", 1.0), ("E01190003", "E01090003", 1.0)]
    counts11 = {"E01190001": 7, "E01190002": 2, "E01190003": 5, "E01090004": 1}
    apportioned = defaultdict(float)
    for code11, code21, weight in weights:
        apportioned[code21] += counts11[code11] * weight
    assert {k: round(v, 9) for k, v in apportioned.items()} == {
        "E01090001": 3.0, "E01090002": 4.0, "E01090003": 7.0, "E01090004": 1.0}
    assert sum(apportioned.values()) == pytest.approx(sum(counts11.values()))


def test_lookup_of_an_older_vintage_lands_on_current_districts(changed):
    assert query(changed, """SELECT parent_lad_code, parent_pfa_code, parent_region_code FROM marts.dim_area
                             WHERE area_code = 'E01090005'""") == [("E06000066", "E23000036", "E12000009")]
    assert query(changed, "SELECT count(*) FROM marts.dim_area WHERE area_code = 'E07000187'") == [(0,)]
    assert query(changed, """SELECT population_all_ages FROM marts.fct_area_population
                             WHERE area_code = 'E06000066' AND area_type = 'lad'""") == [(1000,)]


# Boundary changes as ONS published them (SOURCES.md §5), written out here independently of the seed.
ABOLISHED = {
    **dict.fromkeys(["E07000004", "E07000005", "E07000006", "E07000007"], "E06000060"),           # 2020 Buckinghamshire
    **dict.fromkeys(["E07000150", "E07000152", "E07000153", "E07000156"], "E06000061"),           # 2021 North Northants
    **dict.fromkeys(["E07000151", "E07000154", "E07000155"], "E06000062"),                        # 2021 West Northants
    **dict.fromkeys(["E07000026", "E07000028", "E07000029"], "E06000063"),                        # 2023 Cumberland
    **dict.fromkeys(["E07000027", "E07000030", "E07000031"], "E06000064"),                        # 2023 Westmorland and Furness
    **dict.fromkeys([f"E0700016{d}" for d in range(3, 10)], "E06000065"),                         # 2023 North Yorkshire
    **dict.fromkeys(["E07000187", "E07000188", "E07000189", "E07000246"], "E06000066"),           # 2023 Somerset
    "E07000190": "E06000066",   # Taunton Deane → Somerset West and Taunton (2019) → Somerset (2023)
    **dict.fromkeys(["E07000049", "E07000050", "E07000051", "E07000052", "E07000053"], "E06000059"),  # 2019 Dorset
    **dict.fromkeys(["E06000028", "E06000029", "E07000048"], "E06000058"),                        # 2019 BCP
    "E10000002": "E06000060", "E10000023": "E06000065", "E10000027": "E06000066",                 # counties
}


def test_each_abolished_code_maps_to_its_successor(changed):
    got = dict(query(changed, "SELECT lad_code, current_lad_code FROM intermediate.int_lad_code_map"))
    assert {code: got.get(code) for code in ABOLISHED} == ABOLISHED
    assert got["E06000038"] == "E06000038"          # a current district maps to itself
