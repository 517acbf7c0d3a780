"""DfE exclusions indicators on a release small enough to work out by hand: rates per 10,000 and
per 100 pupils with Byar's limits, authorities compared with the release's own region row, the
region and England as the release gives them (never summed from the two authorities loaded), a
withheld figure never becoming 0 in any sum, school rows placed in LSOAs by the schools register,
and an older release layout of the same figures giving the same marts as the newer one."""

from __future__ import annotations

import duckdb
import pytest

from conftest import write_mini_reference
from test_source_declaration import byar

READING, SLOUGH, PFA, SOUTH_EAST, ENGLAND = "E06000038", "E06000039", "E23000029", "E12000008", "E92000001"
YEAR = "202324"

# (level, region, old code, new code, name) → Total row: headcount, permanent exclusions, suspensions
TOTALS = {
    ("National", None): (8_000_000, 10_000, 960_000),
    ("Regional", SOUTH_EAST): (1_400_000, 1_400, 140_000),
    ("Local authority", READING): (25_000, 30, 2_500),
    ("Local authority", SLOUGH): (30_000, 12, 4_200),
}
NAMES = {None: ("", "", "", ""), SOUTH_EAST: (SOUTH_EAST, "South East", "", ""),
         READING: (SOUTH_EAST, "South East", "870", READING), SLOUGH: (SOUTH_EAST, "South East", "871", SLOUGH)}
LA_NAMES = {READING: "Reading", SLOUGH: "Slough"}
# reason counts, Total phase: (perm, susp) for physical assault on a pupil, on an adult, offensive weapon
REASONS = {
    None: ((900, 60_000), (700, 40_000), (600, 9_000)),
    SOUTH_EAST: ((120, 9_000), (100, 6_000), (80, 1_400)),
    READING: ((5, 300), (3, 200), (2, 40)),
    SLOUGH: ((4, 350), (2, 150), ("x", 60)),        # Slough's weapon exclusions withheld
}
# school rows: urn, laestab, LA, headcount, permanent exclusions, suspensions
SCHOOLS = [("140001", "8704001", READING, 1000, 0, 120), ("140002", "8704002", READING, 600, "x", 80),
           ("140003", "8714001", SLOUGH, 900, 1, "x")]
# the register: two Reading schools in Reading 001A; Slough's under an LSOA 2011 code merged into Slough 001A
REGISTER = [("140001", "870", "4001", "E01090001"), ("140002", "870", "4002", "E01090001"),
            ("140003", "871", "4001", "E01190002")]


def _area(key):
    level, code = key
    region, region_name, old, new = NAMES[code]
    return level, region, region_name, old, new, LA_NAMES.get(code, "")


def new_layout(folder):
    """The 2023/24 EES layout (SOURCES.md §2), school rows with their URN."""
    lines = [("time_identifier,time_period,geographic_level,country_code,country_name,region_code,region_name,"
             "old_la_code,new_la_code,la_name,school_laestab,school_urn,education_phase,num_schools,headcount,perm_excl,"
             "perm_excl_rate,suspension,susp_rate,one_plus_susp,one_plus_susp_rate")]
    for key, (pupils, perm, susp) in TOTALS.items():
        level, region, region_name, old, new, name = _area(key)
        lines.append(f"Academic year,{YEAR},{level},{ENGLAND},England,{region},{region_name},{old},{new},{name},,,"
                     f"Total,10,{pupils},{perm},{perm / pupils * 100:.5f},{susp},{susp / pupils * 100:.5f},1,0.1")
        # a phase row with a withheld count: never read as 0, never added to the Total
        lines.append(f"Academic year,{YEAR},{level},{ENGLAND},England,{region},{region_name},{old},{new},{name},,,"
                     f"Special,1,100,c,c,7,7.0,3,3.0")
    for urn, laestab, la, pupils, perm, susp in SCHOOLS:
        lines.append(f"Academic year,{YEAR},School,{ENGLAND},England,{SOUTH_EAST},South East,{laestab[:3]},{la},"
                     f"{LA_NAMES[la]},{laestab},{urn},State-funded secondary,1,{pupils},{perm},0,{susp},0,0,0")
    (folder / "exc_nat_region_la.csv").write_text("\n".join(lines) + "\n")
    reason_cols = ["physical_pupils", "physical_adult", "offensive_weapon"]
    head = ("time_identifier,time_period,geographic_level,country_code,country_name,region_code,region_name,"
            "old_la_code,new_la_code,la_name,education_phase," + ",".join(f"perm_{r}" for r in reason_cols)
            + "," + ",".join(f"susp_{r}" for r in reason_cols))
    body = []
    for key in TOTALS:
        level, region, region_name, old, new, name = _area(key)
        counts = REASONS[key[1]]
        body.append(f"Academic year,{YEAR},{level},{ENGLAND},England,{region},{region_name},{old},{new},{name},Total,"
                    + ",".join(str(c[0]) for c in counts) + "," + ",".join(str(c[1]) for c in counts))
    (folder / "exc_reason_la.csv").write_text("\n".join([head, *body]) + "\n")


def old_layout(folder):
    """The same figures as an older release writes them: fixed_excl and school_type, time_period
    before time_identifier, new_la_code before old_la_code, columns in another order, CRLF line
    ends, lower-case phase names, laestab instead of URN for schools."""
    lines = [("time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,"
             "new_la_code,old_la_code,la_name,laestab,school_type,headcount,fixed_excl,fixed_excl_rate,perm_excl,"
             "perm_excl_rate,one_plus_fixed,one_plus_fixed_rate,num_schools")]
    for key, (pupils, perm, susp) in TOTALS.items():
        level, region, region_name, old, new, name = _area(key)
        lines.append(f"{YEAR},Academic year,{level},{ENGLAND},England,{region},{region_name},{new},{old},{name},,"
                     f"Total,{pupils},{susp},{susp / pupils * 100:.2f},{perm},{perm / pupils * 100:.2f},1,0.1,10")
        lines.append(f"{YEAR},Academic year,{level},{ENGLAND},England,{region},{region_name},{new},{old},{name},,"
                     f"special,100,7,7.0,c,c,3,3.0,1")
    for _urn, laestab, la, pupils, perm, susp in SCHOOLS:
        lines.append(f"{YEAR},Academic year,School,{ENGLAND},England,{SOUTH_EAST},South East,{la},{laestab[:3]},"
                     f"{LA_NAMES[la]},{laestab},state-funded secondary,{pupils},{susp},0,{perm},0,0,0,1")
    (folder / "exclusions_by_geographic_level.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    reason_cols = ["physical_pupils", "physical_adult", "offensive_weapon"]
    head = ("time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,"
            "new_la_code,old_la_code,la_name,school_type," + ",".join(f"fixed_{r}" for r in reason_cols)
            + "," + ",".join(f"perm_{r}" for r in reason_cols))
    body = []
    for key in TOTALS:
        level, region, region_name, old, new, name = _area(key)
        counts = REASONS[key[1]]
        body.append(f"{YEAR},Academic year,{level},{ENGLAND},England,{region},{region_name},{new},{old},{name},total,"
                    + ",".join(str(c[1]) for c in counts) + "," + ",".join(str(c[0]) for c in counts))
    (folder / "exclusions_by_reason.csv").write_bytes(("\r\n".join([head, *body]) + "\r\n").encode())


def register(folder):
    (folder / "edubasealldata.csv").write_text(
        '"URN","LA (code)","EstablishmentNumber","EstablishmentName","OpenDate","CloseDate","LSOA (code)"\n'
        + "".join(f'"{urn}","{la}","{estab}","School {urn}","01-09-2010","","{lsoa}"\n'
                  for urn, la, estab, lsoa in REGISTER))


def build(tmp_path):
    from ingestion import pipeline
    from ingestion.settings import Settings
    from ingestion.transform import run_dbt

    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    landing = write_mini_reference(tmp_path / "landing")
    pipeline.load_reference(landing, settings)
    dfe = landing / "dfe"
    dfe.mkdir()
    new_layout(dfe)
    register(dfe)
    for source in ("dfe-school-register", "dfe-exclusions", "dfe-exclusion-reasons"):
        report = pipeline.ingest(source, dfe, settings)
        assert [r.outcome for r in report.results] == ["loaded"], source
    pipeline.check_raw(settings)
    run_dbt(["build"], settings)
    return settings, dfe


def dfe_rows(settings):
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        return con.execute("""
            SELECT indicator_id, area_type, area_code, period_type, period_start, numerator, denominator, value,
                   lower_ci_95, upper_ci_95, comparator_area_code, comparison, comparison_with_england, value_note
            FROM marts.fct_indicator_value WHERE indicator_id LIKE 'dfe_%'
            ORDER BY ALL""").fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The release in the newer layout, built; then the same figures delivered again in an older
    layout (another file name: the latest delivery of each row counts), built again."""
    from ingestion import pipeline
    from ingestion.transform import run_dbt

    settings, dfe = build(tmp_path_factory.mktemp("dfe"))
    from_new_layout = dfe_rows(settings)
    older = dfe / "older_release"
    older.mkdir()
    old_layout(older)
    for source in ("dfe-exclusions", "dfe-exclusion-reasons"):
        report = pipeline.ingest(source, older, settings)
        assert [r.outcome for r in report.results] == ["loaded"], source
    pipeline.check_raw(settings)
    run_dbt(["build"], settings)
    return settings, from_new_layout


def test_rates_by_hand_with_region_and_england_as_the_release_gives_them(built):
    _, rows = built
    got = {(r[0], r[1], r[2]): r for r in rows}

    def check(indicator, area_type, area, events, pupils, per):
        row = got[(indicator, area_type, area)]
        assert row[3:5] == ("academic_year", __import__("datetime").date(2023, 9, 1))
        assert (row[5], row[6]) == (events, pupils)
        assert row[7] == pytest.approx(events / pupils * per, rel=1e-12)
        low, high = byar(events)
        assert row[8] == pytest.approx(low / pupils * per, rel=1e-9)
        assert row[9] == pytest.approx(high / pupils * per, rel=1e-9)
        return row

    reading = check("dfe_permanent_exclusion_rate", "utla", READING, 30, 25_000, 10_000)     # 12.0
    slough = check("dfe_permanent_exclusion_rate", "utla", SLOUGH, 12, 30_000, 10_000)       # 4.0
    check("dfe_permanent_exclusion_rate", "pfa", PFA, 42, 55_000, 10_000)                    # the force: both
    # region and England are the release's own rows, not 42 / 55,000
    check("dfe_permanent_exclusion_rate", "region", SOUTH_EAST, 1_400, 1_400_000, 10_000)    # 10.0
    check("dfe_permanent_exclusion_rate", "country", ENGLAND, 10_000, 8_000_000, 10_000)     # 12.5
    # authorities compared with their region (10.0 per 10,000): Reading's 95% interval 8.1–17.1
    # spans it; Slough's 2.1–7.0 lies below it, and lower is better
    assert reading[10:] == (SOUTH_EAST, "similar", "similar", None)
    assert slough[10:] == (SOUTH_EAST, "better", "better", None)
    check("dfe_suspension_rate", "utla", READING, 2_500, 25_000, 100)                         # 10.0 per 100
    check("dfe_suspension_rate", "utla", SLOUGH, 4_200, 30_000, 100)                          # 14.0
    # physical assault: pupil and adult, suspensions and permanent exclusions: 5 + 3 + 300 + 200
    check("dfe_assault_exclusion_rate", "utla", READING, 508, 25_000, 10_000)                 # 203.2
    check("dfe_assault_exclusion_rate", "pfa", PFA, 508 + 506, 55_000, 10_000)
    check("dfe_assault_exclusion_rate", "region", SOUTH_EAST, 15_220, 1_400_000, 10_000)
    check("dfe_weapon_exclusion_rate", "utla", READING, 42, 25_000, 10_000)                   # 16.8


def test_a_withheld_figure_is_never_zero_in_any_sum(built):
    settings, rows = built
    got = {(r[0], r[1], r[2]): r for r in rows}
    # Slough's weapon count is x: no value for Slough, nor for the force it is part of (not the
    # 42 of Reading alone), each published with the note saying why; the region's own row stands
    for area_type, area in (("utla", SLOUGH), ("pfa", PFA)):
        row = got[("dfe_weapon_exclusion_rate", area_type, area)]
        assert (row[5], row[6], row[7], row[-1]) == (None, None, None, "withheld by the source")
    assert got[("dfe_weapon_exclusion_rate", "region", SOUTH_EAST)][5] == 80 + 1_400
    assert [k for k, r in got.items() if r[-1]] == [("dfe_school_suspension_rate", "lsoa", "E01090003"),
                                                   ("dfe_weapon_exclusion_rate", "pfa", PFA),
                                                   ("dfe_weapon_exclusion_rate", "utla", SLOUGH)]
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        assert con.execute("""SELECT offensive_weapon_exclusions, offensive_weapon_status
                              FROM intermediate.int_dfe__exclusion_reason_area_year
                              WHERE area_code = ?""", [SLOUGH]).fetchall() == [(None, "x")]
        # the special-school phase rows carry c: null with the symbol, and not in the Total
        assert con.execute("""SELECT DISTINCT perm_excl, perm_excl_status FROM staging.stg_dfe__exclusions
                              WHERE phase = 'special'""").fetchall() == [(None, "c")]
        # a school's x leaves its LSOA's sum null (not the other school's count alone)
        lsoa = dict(con.execute("""SELECT lsoa21_code, (headcount, perm_excl, suspension)
                                   FROM intermediate.int_dfe__exclusion_lsoa_year""").fetchall())
    assert lsoa == {"E01090001": (1600, None, 200), "E01090003": (900, 1, None)}


def test_school_rows_reach_the_lsoa_the_register_gives(built):
    _, rows = built
    got = {(r[0], r[1], r[2]): r for r in rows}
    row = got[("dfe_school_suspension_rate", "lsoa", "E01090001")]
    assert (row[5], row[6], row[7]) == (200, 1600, pytest.approx(12.5))
    # Slough 001A's school withheld its suspensions: no value there; nothing at any level below the
    # authority else
    assert got[("dfe_school_suspension_rate", "lsoa", "E01090003")][-1] == "withheld by the source"
    assert {k[1] for k in got if k[0] == "dfe_school_suspension_rate"} == {"lsoa"}
    assert {k[1] for k in got if k[0] != "dfe_school_suspension_rate"} == {"utla", "pfa", "region", "country"}


def test_an_older_layout_of_the_same_year_gives_the_same_marts(built):
    settings, from_new_layout = built
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        # the older layout's rows are the ones counted now
        assert con.execute("SELECT DISTINCT source_file FROM staging.stg_dfe__exclusions").fetchall() == [
            ("exclusions_by_geographic_level.csv",)]
    assert dfe_rows(settings) == from_new_layout
    assert len(from_new_layout) == 22
