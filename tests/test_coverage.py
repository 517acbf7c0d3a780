"""Honest coverage (issue 12, items 1–3): coverage as data, records with no location, files out of
scope, on a fixture small enough to count by hand.

Fixture (tests/conftest.py mini reference: Reading LSOAs A 1,500 and B 2,000, Slough C 1,800 and
D 2,200, all in Thames Valley, PFA E23000029, 7,500 people):
  Thames Valley street files for 2025-01 and 2025-03, none for 2025-02:
    2025-01  A: 3 violence, D: 2 violence, and 1 violence with no location (6 records, 5 located)
    2025-03  A: 1 violence
  British Transport Police, 2025-01: 4 violence at a station in A (Reported by BTP)
  Refused: a Northern Ireland street file, and a Kent file whose LSOA codes are all Scottish data
  zones (S01…), none of England or Wales.

Worked by hand (catalogue choice: BTP records do not count in territorial areas):
  January: force area 3 + 2 + 1 = 6 (every record the force published); LSOA A 3 (BTP's 4 not
  counted), D 2; located 5 of 6 = 83%, shown on the force's value and on every area in it.
  February: no Thames Valley file, so every Thames Valley area is "not delivered", no value;
  the quarter 2025 Q1 too (one of its months is missing).
  fct_police_crime_lsoa_month (the police.uk record table) keeps every located record: A = 3 + 4.
  With the choice reversed, A's January count is 3 + 4 = 7 and the force's 6 + 4 = 10.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from conftest import MINI_LSOAS, STREET_HEADER, crime_id, private_warehouse, street_row, write_mini_reference
from test_police_street_load import VIOLENCE, write_street

A, B, C, D = (lsoa[:2] for lsoa in MINI_LSOAS)
PFA = "E23000029"
JAN, FEB = "2025-01-01", "2025-02-01"


def _btp_rows(n: int) -> str:
    return "".join(
        f"{crime_id('2025-01', 500 + i)},2025-01,British Transport Police,British Transport Police,"
        f"-0.971000,51.455000,On or near Reading (Station),{A[0]},{A[1]},{VIOLENCE},,\n" for i in range(n))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("coverage")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.publish import publish
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        police = landing / "police"
        write_street(police, "2025-01", [(A, VIOLENCE, 3), (D, VIOLENCE, 2), (None, VIOLENCE, 1)])
        write_street(police, "2025-03", [(A, VIOLENCE, 1)])
        (police / "2025-01" / "2025-01-btp-street.csv").write_text(STREET_HEADER + _btp_rows(4))
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(police)

        refused = {}
        elsewhere = root / "elsewhere" / "2025-01"
        elsewhere.mkdir(parents=True)
        (elsewhere / "2025-01-northern-ireland-street.csv").write_text(STREET_HEADER + "".join(
            f"{crime_id('2025-01', 700 + i)},2025-01,Police Service of Northern Ireland,"
            "Police Service of Northern Ireland,-5.93,54.59,On or near Belfast,,,Violence and sexual offences,,\n"
            for i in range(3)))
        (elsewhere / "2025-01-kent-street.csv").write_text(STREET_HEADER + "".join(
            street_row(i, "2025-01", ("S01006506", "Data zone"), VIOLENCE) for i in range(1, 4)))
        for path in sorted(elsewhere.iterdir()):
            with pytest.raises(pipeline.DeliveriesRejected) as error:
                pipeline.ingest_police_street(path)
            refused[path.name] = str(error.value)

        pipeline.check_raw()
        run_dbt(["build"])
        pipeline.check_marts()
        published = publish()
        yield {"working": get_settings().working_db, "published": published, "refused": refused,
               "root": root}


@pytest.fixture
def db(built):
    con = duckdb.connect(str(built["published"]), read_only=True)
    yield con
    con.close()


def value(db, area: str, month: str = JAN, indicator: str = "violence_offences_rate", period_type: str = "month",
          table: str = "fct_indicator_value"):
    return db.execute(f"""SELECT numerator, value IS NOT NULL, located_percent, value_note FROM {table}
                          WHERE indicator_id = ? AND area_code = ? AND period_type = ? AND period_start = ?""",
                      [indicator, area, period_type, month]).fetchone()


def test_coverage_is_published_per_source_force_and_month(db):
    rows = db.execute("""SELECT reporting_unit, area_code, period_start::varchar, delivery_status, records,
                                records_located, located_percent
                         FROM fct_source_coverage WHERE source = 'police_street' ORDER BY 1, 3""").fetchall()
    assert rows == [
        ("btp", None, "2025-01-01", "delivered", 4, 4, 100),
        ("btp", None, "2025-02-01", "not delivered", 0, 0, None),
        ("btp", None, "2025-03-01", "not delivered", 0, 0, None),
        ("thames-valley", PFA, "2025-01-01", "delivered", 6, 5, 83),
        ("thames-valley", PFA, "2025-02-01", "not delivered", 0, 0, None),
        ("thames-valley", PFA, "2025-03-01", "delivered", 1, 1, 100),
    ]


def test_an_area_whose_force_did_not_deliver_has_no_value_and_says_not_delivered(db):
    feb = db.execute("""SELECT area_type, count(*), count(value), count(numerator), bool_and(value_note = 'not delivered')
                        FROM fct_indicator_value WHERE period_start = ? AND period_type = 'month'
                        AND indicator_id = 'violence_offences_rate' GROUP BY 1 ORDER BY 1""", [FEB]).fetchall()
    # every Thames Valley area of every published level: 4 LSOAs, 2 MSOAs, 2 districts, 2 upper
    # tiers (unitaries), 2 CSPs, the force area; none with a value or a count
    assert feb == [("csp", 2, 0, 0, True), ("lad", 2, 0, 0, True), ("lsoa", 4, 0, 0, True),
                   ("msoa", 2, 0, 0, True), ("pfa", 1, 0, 0, True), ("utla", 2, 0, 0, True)]
    assert value(db, PFA, JAN, period_type="quarter") == (None, False, None, "not delivered")
    # the months that were delivered have values, with no note
    assert value(db, "E06000038", "2025-03-01")[3] is None


def test_force_totals_count_records_with_no_location_and_every_value_says_how_many_were_located(db):
    assert value(db, PFA) == (6, False, 83, None)          # 3 + 2 + 1 unlocated (below 10: no rate)
    assert value(db, A[0]) == (3, False, 83, None)         # the BTP station's 4 are not counted
    assert value(db, D[0]) == (2, False, 83, None)
    assert value(db, "E06000038") == (3, False, 83, None)  # Reading = A + B, below force level
    # the police.uk record table keeps every located record, whichever force reported it
    assert db.execute("""SELECT crime_count FROM fct_police_crime_lsoa_month
                         WHERE lsoa21_code = ? AND month_start = ? AND crime_type = ?""",
                      [A[0], JAN, VIOLENCE]).fetchone() == (7,)


def test_files_with_no_england_or_wales_geography_are_refused_by_name_with_the_rule(built, db):
    ni = built["refused"]["2025-01-northern-ireland-street.csv"]
    assert "2025-01-northern-ireland-street.csv" in ni and "force_in_england_wales" in ni
    kent = built["refused"]["2025-01-kent-street.csv"]
    assert "2025-01-kent-street.csv" in kent and "england_wales_geography" in kent
    manifest = dict(db.execute("""SELECT source_file, outcome || '/' || check_status || '/' || coalesce(refused_rule, '')
                                  FROM load_manifest WHERE source = 'police_street'""").fetchall())
    assert manifest["2025-01-northern-ireland-street.csv"].startswith("rejected/")
    assert manifest["2025-01-northern-ireland-street.csv"].endswith("/force_in_england_wales")
    assert manifest["2025-01-kent-street.csv"].endswith("/england_wales_geography")
    # nothing said to have passed is missing from the marts: every passed street delivery is a
    # delivered force-month in the published coverage
    passed = db.execute("""SELECT count(*) FROM load_manifest m WHERE source = 'police_street'
                           AND check_status = 'passed' AND NOT EXISTS (
                               SELECT 1 FROM fct_source_coverage c WHERE c.source = m.source
                               AND c.delivery_status = 'delivered'
                               AND m.source_file = strftime(c.period_start, '%Y-%m') || '-' || c.reporting_unit || '-street.csv')
                        """).fetchone()[0]
    assert passed == 0
    assert db.execute("SELECT count(*) FROM load_manifest WHERE check_status = 'passed'").fetchone()[0] > 0


def test_british_transport_police_records_count_in_territorial_areas_only_by_the_catalogue_choice(built, tmp_path):
    from ingestion.settings import Settings
    from ingestion.transform import run_dbt

    copy = Settings(warehouse_dir=tmp_path / "warehouse")
    copy.warehouse_dir.mkdir()
    shutil.copy(built["working"], copy.working_db)
    run_dbt(["build", "--full-refresh", "--select", "int_indicator__lsoa_month+", "--exclude", "resource_type:test",
             "--vars", "{btp_records_in_territorial_areas: true}"], settings=copy)
    con = duckdb.connect(str(copy.working_db), read_only=True)
    try:
        assert value(con, A[0], table="marts.fct_indicator_value")[:1] == (7,)    # 3 + BTP's 4
        assert value(con, PFA, table="marts.fct_indicator_value")[:1] == (10,)    # 6 + 4
    finally:
        con.close()
