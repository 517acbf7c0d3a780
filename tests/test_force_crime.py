"""Force recorded-crime extracts: a force's own export mapped in by a TOML file (no code), and the
Home Office knife-enabled serious violence measure (all ages and under 25) worked by hand.

Fixture: the mini geography (tests/conftest.py) with populations split by age so under-25s exist:
  A 1,500 (600 under 25), B 2,000 (800), C 1,800 (900), D 2,200 (1,000); PFA 7,500 (3,300).
Thames Valley's export ("TVP layout": its own headers, dd/mm/yyyy dates, Yes/No flag, NK ages):
  2025-01  A: 12 knife serious violence (8 victims under 25, 3 aged 25+, 1 age unknown), one of
              them exported as code 034B; and 7 that are not: 3 knife 105A (assault without
              injury), 2 unflagged 8N, 1 knife murder (code 1: Homicide Index), 1 knife 10D
              (possession, not violence)
           C: 4 knife serious violence (3 under 25)            D: 1 unflagged 105A
  and in every month 60 unflagged 105A in D (most recorded crime has no knife)
  2025-02  A: 5 knife serious violence, ages 18, 24, 25, 30, 50 (2 under 25: 25 is not)
           B: 1 unflagged 8N
  2025-03  C: 9 knife serious violence, 5 under 25
Expected, per 100,000, under the NHS small-number rule: counts 1–7 hidden, the rest published
rounded to 5, and the value and CI (Byar's limits, as in test_violence_indicator.py, × 100 for
the multiplier) those of the published count, never of the true one:
  Jan PFA all ages 16 → 15: 15/7,500 = 200.0; under 25 11 → 10: 10/3,300 = 303.03
  Q1 PFA all ages 30 → 30: 400.0; under 25 18 → 20: 20/3,300 = 606.06
  Q1 A all ages 12 + 5 + 0 = 17 → 15: 15/1,500 = 1,000.0
Secondary suppression (geography and time):
  A, January, all ages (12) is hidden: in A's quarter (17 = 12 + 5 + 0) February's 5 is hidden,
  and the smallest non-zero published cell of that relation is January's 12.
  Under 25, January: Slough (C's 3) hidden, so Reading (8) is hidden (PFA = Reading + Slough);
  Reading's only MSOA is then the one published cell of Reading = MSOA, so hidden (8); and A,
  that MSOA's only non-zero LSOA (B has 0), hidden too.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from conftest import MINI_LSOAS, private_warehouse, write_mini_reference
from disclosure_attack import attack
from ingestion.load import FileRejected
from ingestion.sources.force_crime import MappingInvalid, extract_files, load_extract_file, read_mapping

A, B, C, D = (lsoa[0] for lsoa in MINI_LSOAS)
UNDER_25 = {A: 600, B: 800, C: 900, D: 1000}

TVP_MAPPING = r"""
# Thames Valley Police crime export → project schema
force = "thames-valley"
file_pattern = 'TVP_Crime_Extract_(?P<month>\d{4}-\d{2})\.csv'
date_format = "%d/%m/%Y"

[columns]
crime_reference = "Occurrence Ref (pseudonymised)"
recorded_date = "Date Recorded"
offence_code = "HO Code"
offence_description = "HO Offence"
knife_or_sharp_instrument = "Knife/Sharp Instrument"
victim_age = "Victim Age"
lsoa_code = "LSOA 2021"

[values]
knife_true = ["Yes"]
knife_false = ["No"]
victim_age_unknown = ["NK", ""]
"""
TVP_HEADER = ("Occurrence Ref (pseudonymised),Date Recorded,HO Code,HO Offence,Knife/Sharp Instrument,"
              "Victim Age,LSOA 2021,Officer In Case\n")


def tvp_rows(month: str, spec: list[tuple[str, str, str, str]], start: int = 1) -> list[str]:
    """spec: (lsoa, offence code, knife Yes/No, victim age) per crime; recorded on the 15th."""
    year, mon = month.split("-")
    return [f"TV{month.replace('-', '')}{n:05d},15/{mon}/{year},{code},Offence {code},{knife},{age},{lsoa},PC {n}\n"
            for n, (lsoa, code, knife, age) in enumerate(spec, start)]


JANUARY = (
    [(A, code, "Yes", str(age))
     for code, age in zip(["8N", "034B", "5D", "8N", "34A", "2", "3B", "19C"], range(16, 24), strict=True)]
    + [(A, "8N", "Yes", "30"), (A, "20A", "Yes", "35"), (A, "34B", "Yes", "40"), (A, "8N", "Yes", "NK")]
    + [(A, "105A", "Yes", "19")] * 3 + [(A, "8N", "No", "20")] * 2 + [(A, "1", "Yes", "22"), (A, "10D", "Yes", "17")]
    + [(C, "34B", "Yes", "15"), (C, "34B", "Yes", "17"), (C, "34B", "Yes", "19"), (C, "8N", "Yes", "45")]
    + [(D, "105A", "No", "33")]
)
FEBRUARY = [(A, "8N", "Yes", str(age)) for age in (18, 24, 25, 30, 50)] + [(B, "8N", "No", "41")]
MARCH = [(C, "8N", "Yes", str(age)) for age in (10, 11, 12, 13, 14, 26, 27, 28, 29)]
# most recorded crime carries no knife flag (the raw check expects a minority flagged)
UNFLAGGED = [(D, "105A", "No", "33")] * 60
JANUARY, FEBRUARY, MARCH = JANUARY + UNFLAGGED, FEBRUARY + UNFLAGGED, MARCH + UNFLAGGED


def write_tvp(folder: Path, month: str, spec) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mapping.toml").write_text(TVP_MAPPING)
    path = folder / f"TVP_Crime_Extract_{month}.csv"
    path.write_text(TVP_HEADER + "".join(tvp_rows(month, spec)))
    return path


def write_project_schema(folder: Path, month: str, spec) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"thames-valley-recorded-crime-{month}.csv"
    path.write_text("crime_reference,recorded_date,offence_code,offence_description,knife_or_sharp_instrument,"
                    "victim_age,lsoa_code\n" + "".join(
                        f"TV{month.replace('-', '')}{n:05d},{month}-15,{code},Offence {code},{knife[0]},{age},{lsoa}\n"
                        for n, (lsoa, code, knife, age) in enumerate(spec, 1)))
    return path


def write_population_with_under_25s(landing: Path) -> None:
    """Replace the mini population: the under-25s at age 20, everyone else at 30."""
    ages = [f"F{a}" for a in range(91)] + [f"M{a}" for a in range(91)]
    rows = []
    for code, name, lad, ladn, total in MINI_LSOAS:
        counts = [0] * len(ages)
        young, old = UNDER_25[code], total - UNDER_25[code]
        counts[ages.index("F20")], counts[ages.index("M20")] = young // 2, young - young // 2
        counts[ages.index("F30")], counts[ages.index("M30")] = old // 2, old - old // 2
        rows.append(",".join([lad, ladn, code, name, str(total), *map(str, counts)]))
    (landing / "population" / "sapelsoasyoa_mid2024.csv").write_text(
        "LAD 2023 Code,LAD 2023 Name,LSOA 2021 Code,LSOA 2021 Name,Total," + ",".join(ages) + "\n"
        + "\n".join(rows) + "\n")


def byar(observed: int, population: int, multiplier: float = 100_000) -> tuple[float, float]:
    z = 1.959964  # to 6 d.p., so values agree to ~1e-8 relative
    o, o1 = observed, observed + 1
    lower = o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3
    upper = o1 * (1 - 1 / (9 * o1) + z / (3 * math.sqrt(o1))) ** 3
    return lower / population * multiplier, upper / population * multiplier


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("knife")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        write_population_with_under_25s(landing)
        extracts = landing / "force_crime" / "thames-valley"
        for month, spec in [("2025-01", JANUARY), ("2025-02", FEBRUARY), ("2025-03", MARCH)]:
            write_tvp(extracts, month, spec)
        # February again, re-exported in the project's own schema: the same crimes, never doubled
        write_project_schema(landing / "force_crime" / "re-export", "2025-02", FEBRUARY)
        pipeline.load_reference(landing)
        report = pipeline.ingest_force_crime(landing / "force_crime")
        pipeline.check_raw()
        run_dbt(["build"])
        pipeline.check_marts()
        yield get_settings().working_db, report


@pytest.fixture
def db(warehouse):
    con = duckdb.connect(str(warehouse[0]), read_only=True)
    yield con
    con.close()


def knife(db, indicator, area, period_type="month", period_start="2025-01-01", area_type=None):
    return db.execute(
        "SELECT numerator, denominator, value, lower_ci_95, upper_ci_95 FROM marts.fct_indicator_value "
        "WHERE indicator_id = ? AND area_code = ? AND period_type = ? AND period_start = ? "
        "AND area_type = coalesce(?, area_type) AND area_type <> 'utla'",
        [indicator, area, period_type, period_start, area_type]).fetchone()


def test_the_forces_own_export_loads_through_its_mapping_file(warehouse, db):
    report = warehouse[1]
    assert sorted((r.file.name, r.rows_loaded) for r in report.results) == [
        ("TVP_Crime_Extract_2025-01.csv", len(JANUARY)), ("TVP_Crime_Extract_2025-02.csv", len(FEBRUARY)),
        ("TVP_Crime_Extract_2025-03.csv", len(MARCH)), ("thames-valley-recorded-crime-2025-02.csv", len(FEBRUARY))]
    assert db.execute("SELECT count(*) FROM staging.stg_police__force_recorded_crime").fetchone()[0] == (
        len(JANUARY) + len(FEBRUARY) + len(MARCH))
    row = db.execute("""SELECT force, recorded_date, offence_code, is_knife_or_sharp_instrument, victim_age
                        FROM raw.force_recorded_crime WHERE crime_reference = 'TV20250100002'""").fetchone()
    assert row == ("thames-valley", __import__("datetime").date(2025, 1, 15), "34B", True, 17)
    assert db.execute("SELECT count(*) FROM raw.force_recorded_crime WHERE victim_age IS NULL").fetchone()[0] == 1
    assert db.execute("SELECT check_status FROM raw.load_manifest WHERE source = 'force_recorded_crime' "
                      "GROUP BY ALL").fetchall() == [("passed",)]


def test_knife_serious_violence_lsoa_rate_and_ci_by_hand(db):
    # the quarter: 17 offences, published as 15, with the value and CI of 15
    numerator, denominator, value, lower, upper = knife(db, "knife_serious_violence_rate", A, "quarter",
                                                        area_type="lsoa")
    assert (numerator, denominator) == (15, 1500)
    assert value == pytest.approx(1000.0)
    assert (lower, upper) == pytest.approx(byar(15, 1500), rel=1e-7)
    # January's 12 is published as 10; February's 5 and March's 0 are hidden (0–7), and the
    # quarter less January leaves February anywhere from 0 to 7 (15 ± 2 − (10 ± 2), less March)
    assert knife(db, "knife_serious_violence_rate", A, area_type="lsoa")[0:3:2] == (10, pytest.approx(10 / 1500 * 100_000))
    assert knife(db, "knife_serious_violence_rate", A, "month", "2025-02-01", "lsoa")[0:3:2] == (None, None)
    assert knife(db, "knife_serious_violence_rate", A, "month", "2025-03-01", "lsoa")[0:3:2] == (None, None)


def test_selection_counts_only_flagged_home_office_offences(db):
    got = db.execute("""SELECT lsoa21_code, sum(crime_count) FROM intermediate.int_police__force_crime_lsoa_month
                        WHERE is_knife_serious_violence AND month_start = '2025-01-01' GROUP BY ALL ORDER BY 1""").fetchall()
    assert got == [(A, 12), (C, 4)]


def test_pfa_month_and_quarter_all_ages_and_under_25(db):
    tv = "E23000029"
    for indicator, period, start, published, population in [
        ("knife_serious_violence_rate", "month", "2025-01-01", 15, 7500),       # 16
        ("knife_serious_violence_u25_rate", "month", "2025-01-01", 10, 3300),   # 11
        ("knife_serious_violence_rate", "quarter", "2025-01-01", 30, 7500),     # 30
        ("knife_serious_violence_u25_rate", "quarter", "2025-01-01", 20, 3300),  # 18
    ]:
        numerator, denominator, value, lower, upper = knife(db, indicator, tv, period, start, "pfa")
        assert denominator == population, (indicator, period)
        assert numerator == published, (indicator, period)
        assert value == pytest.approx(published / population * 100_000), (indicator, period)
        assert (lower, upper) == pytest.approx(byar(published, population), rel=1e-7), (indicator, period)
    assert knife(db, "knife_serious_violence_rate", tv, "month", "2025-01-01", "pfa")[2] == pytest.approx(200.0)
    assert knife(db, "knife_serious_violence_rate", tv, "quarter", "2025-01-01", "pfa")[2] == pytest.approx(400.0)
    assert knife(db, "knife_serious_violence_u25_rate", tv, "quarter", "2025-01-01", "pfa")[2] == pytest.approx(606.060606)


def test_small_counts_hidden_and_none_can_be_worked_out(db, warehouse):
    # Slough under 25 in January: 3 → hidden. Reading (8) is the only other LAD in the PFA (11),
    # but both are shown rounded (10 and 10, each 8 to 12), so Slough = PFA − Reading is only known
    # to lie in 0 to 4: Reading, its only MSOA and A in it (8 each; B has none) stay published
    assert knife(db, "knife_serious_violence_u25_rate", "E06000039", area_type="lad")[0] is None
    assert knife(db, "knife_serious_violence_u25_rate", "E06000038", area_type="lad")[0] == 10
    assert knife(db, "knife_serious_violence_u25_rate", "E02090001", area_type="msoa")[0] == 10
    assert knife(db, "knife_serious_violence_u25_rate", A, area_type="lsoa")[0] == 10
    published = db.execute("""SELECT count(*) FROM marts.fct_indicator_value
                              WHERE indicator_id LIKE 'knife%' AND numerator BETWEEN 0 AND 7""").fetchone()[0]
    assert published == 0
    # an attacker with the whole file (tests/disclosure_attack.py) pins no hidden count
    found = attack(warehouse[0], schema="marts")
    assert found["hidden"] > 0 and found["recovered"] == []


def test_incomplete_financial_year_is_not_published(db):
    assert db.execute("""SELECT count(*) FROM marts.fct_indicator_value WHERE indicator_id LIKE 'knife%'
                         AND period_type = 'financial_year'""").fetchone()[0] == 0


def test_no_crime_reference_or_age_in_the_marts(db):
    columns = {c for (c,) in db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts'").fetchall()}
    assert not columns & {"crime_reference", "victim_age", "recorded_date"}


# --- the loader on its own ------------------------------------------------------------------

@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_redelivered_and_overlapping_extracts_never_double(tmp_path, con):
    folder = tmp_path / "force_crime" / "tvp"
    first = write_tvp(folder, "2025-01", JANUARY[:4])
    mapping = read_mapping(folder / "mapping.toml")
    load_extract_file(con, first, mapping)
    # re-delivered with one crime more: replaces the month
    first.write_text(TVP_HEADER + "".join(tvp_rows("2025-01", JANUARY[:5])))
    assert load_extract_file(con, first, mapping).outcome == "loaded"
    assert load_extract_file(con, first, mapping).outcome == "unchanged"
    assert con.execute("SELECT count(*) FROM raw.force_recorded_crime").fetchone()[0] == 5
    # the same crimes again in a quarterly re-export (a different file): raw keeps both
    # deliveries, staging counts each crime reference once
    quarter = tmp_path / "project" / "thames-valley-recorded-crime-2025-01.csv"
    quarter.parent.mkdir()
    quarter.write_text("crime_reference,recorded_date,offence_code,offence_description,knife_or_sharp_instrument,"
                       "victim_age,lsoa_code\n" + "".join(
                           f"TV202501{n:05d},2025-01-15,8N,Assault with injury,Y,20,{A}\n" for n in range(1, 7)))
    paired, refused = extract_files(quarter)
    assert not refused and paired[0][1].path.name == "project_schema.toml"
    load_extract_file(con, quarter, paired[0][1])
    assert con.execute("SELECT count(*) FROM raw.force_recorded_crime").fetchone()[0] == 11
    distinct = con.execute("SELECT count(DISTINCT (force, crime_reference)) FROM raw.force_recorded_crime").fetchone()[0]
    assert distinct == 6   # what stg_police__force_recorded_crime keeps (through dbt: the fixture's re-export)


def test_unknown_knife_flag_value_is_refused_naming_file_row_and_rule(tmp_path, con):
    path = write_tvp(tmp_path, "2025-01", JANUARY[:3])
    path.write_text(path.read_text().replace(",Yes,", ",Unknown,", 1).replace(",Yes,17", ",Maybe,17"))
    with pytest.raises(FileRejected) as rejected:
        load_extract_file(con, path, read_mapping(tmp_path / "mapping.toml"))
    assert rejected.value.rule == "knife_flag_known" and rejected.value.row == 1
    assert "TVP_Crime_Extract_2025-01.csv, row 1" in str(rejected.value) and "'Yes'" in str(rejected.value)


def test_renamed_column_is_refused_naming_it(tmp_path, con):
    path = write_tvp(tmp_path, "2025-01", JANUARY[:3])
    path.write_text(path.read_text().replace("Victim Age", "Age of Victim", 1))
    with pytest.raises(FileRejected) as rejected:
        load_extract_file(con, path, read_mapping(tmp_path / "mapping.toml"))
    assert "'Victim Age'" in str(rejected.value) and "'Age of Victim'" in str(rejected.value)


def test_dates_outside_the_file_month_and_bad_ages_are_refused(tmp_path, con):
    mapping_path = tmp_path / "mapping.toml"
    path = write_tvp(tmp_path, "2025-01", JANUARY[:3])
    path.write_text(path.read_text().replace("15/01/2025", "15/02/2025", 1))
    with pytest.raises(FileRejected) as rejected:
        load_extract_file(con, path, read_mapping(mapping_path))
    assert rejected.value.rule == "recorded_date_in_file_month"
    path = write_tvp(tmp_path, "2025-01", [(A, "8N", "Yes", "20"), (A, "8N", "Yes", "230")])
    with pytest.raises(FileRejected) as rejected:
        load_extract_file(con, path, read_mapping(mapping_path))
    assert (rejected.value.rule, rejected.value.row) == ("victim_age_valid", 2)


def test_bad_offence_code_row_is_quarantined(tmp_path, con):
    path = write_tvp(tmp_path, "2025-01", [(A, "8N", "Yes", "20"), (A, "ASSAULT", "Yes", "20")])
    result = load_extract_file(con, path, read_mapping(tmp_path / "mapping.toml"))
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)


@pytest.mark.parametrize("edit, key", [
    (lambda t: t.replace('victim_age = "Victim Age"\n', ""), "columns.victim_age"),
    (lambda t: t.replace("knife_false", "knife_no"), "values.knife_no"),
    (lambda t: t.replace('date_format = "%d/%m/%Y"', 'date_format = "%d/%m"'), "date_format"),
    (lambda t: t.replace('force = "thames-valley"\n', ""), "force"),
    (lambda t: t.replace("crime_reference =", "crime_ref ="), "columns.crime_ref"),
])
def test_mapping_mistakes_are_named(tmp_path, edit, key):
    path = tmp_path / "mapping.toml"
    path.write_text(edit(TVP_MAPPING))
    with pytest.raises(MappingInvalid) as invalid:
        read_mapping(path)
    assert f"mapping key '{key}'" in str(invalid.value)


def test_a_file_no_mapping_matches_is_refused_by_name(tmp_path):
    folder = tmp_path / "force_crime"
    write_tvp(folder / "tvp", "2025-01", JANUARY[:3])
    (folder / "tvp" / "other_export.csv").write_text("a,b\n1,2\n")
    paired, refused = extract_files(folder)
    assert [p.name for p, _ in paired] == ["TVP_Crime_Extract_2025-01.csv"]
    assert [r.file.name for r in refused] == ["other_export.csv"] and refused[0].rule == "column_mapping"
