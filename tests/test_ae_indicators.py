"""A&E indicators end to end on a fixture small enough to count by hand: ECDS extracts (with the
identifiers a careless extract carries) → raw → dbt → published file. Expected values are worked
out here from the rows written, with the PHEindicatormethods formulas typed in (numpy/scipy),
never read back from the code under test."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest
from scipy.stats import norm

from conftest import MINI_LSOAS, private_warehouse, write_mini_reference
from test_ae_sources import ECDS_HEADER, IDENTIFYING, KEY, every_value, leaks

A, B, C, D = (row[0] for row in MINI_LSOAS)
READING, SLOUGH, PFA = "E06000038", "E06000039", "E23000029"
ESP2013 = np.array([5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000, 5500,
                    5000, 4000, 2500, 1500, 1000], dtype=float)
ASSAULT, SELF_HARM, ACCIDENT = "52684005", "276853009", "418019003"
SHARP, BLUNT = "283565005", "125667009"
# January 2025 assault attendances by residence: (lsoa, age, sharp object?), as corrected (-r2)
JANUARY = ([(A, age, age in (17, 22, 30)) for age in (15, 16, 17, 18, 19, 20, 21, 22, 23, 30, 40, 55, 70, 85)]
           + [(B, age, age == 12) for age in (10, 12, 24, 25, 33, 47, 60, 90, 95)]
           + [(C, age, False) for age in (18, 19, 20, 21, 35, 44, 66)]
           + [(D, age, False) for age in (16, 29, 50)])
JANUARY_RDU = [(D, 20, False), (D, 31, False)]           # Wexham Park's trust: two more Slough residents
# identifiers, valid modulus 11, on every row (the extract is careless); none may survive. The date
# of birth is 1 January of the year that makes the row's age (the loader takes the age from it)
PEOPLE = [("9434765919", "Alex Smith", "RG1 4AB"), ("4010232137", "Sam Jones", "SL1 2XY")]
BIRTH_DATES: set[str] = set()


def rows(provider: str, month: str, attendances, start: int = 1, intent: str = ASSAULT, dupe: bool = False):
    out = []
    for i, (lsoa, age, sharp) in enumerate(attendances, start):
        nhs, name, postcode = PEOPLE[i % 2]
        born = f"{int(month[:4]) - age}-01-01"
        BIRTH_DATES.add(born)
        out.append(f"{provider}{month}{i:04d},{provider},{month}-{10 + i % 15:02d},{(21 + i) % 24:02d}:30,{age},"
                   f"{1 + i % 2},,,{intent},{SHARP if sharp else BLUNT},,,,{lsoa},{int(dupe)},"
                   f"{nhs},{name},{born},{postcode}\n")
    return "".join(out)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("ae")
    landing = write_mini_reference(root / "landing")
    # 5 women and 5 men at every single year of age 0–89 and at 90+: 50 per band per LSOA, 10 in 90+
    ages = [f"F{a}" for a in range(91)] + [f"M{a}" for a in range(91)]
    (landing / "population" / "sapelsoasyoa_mid2024.csv").write_text(
        "LAD 2023 Code,LAD 2023 Name,LSOA 2021 Code,LSOA 2021 Name,Total," + ",".join(ages) + "\n"
        + "".join(",".join([lad, lad_name, code, name, "910", *["5"] * 182]) + "\n"
                  for code, name, lad, lad_name, _ in MINI_LSOAS))
    ecds = landing / "ae" / "ecds"
    ecds.mkdir(parents=True)
    # the original January extract had a row the correction withdraws and lacked one it adds
    original = [x for x in JANUARY if (x[0], x[1]) != (B, 95)] + [(A, 45, False)]
    (ecds / "ecds-RHW-2025-01.csv").write_text(ECDS_HEADER + rows("RHW", "2025-01", original))
    (ecds / "ecds-RHW-2025-01-r2.csv").write_text(
        ECDS_HEADER + rows("RHW", "2025-01", JANUARY)
        + rows("RHW", "2025-01", [(A, 30, False)], start=900, intent=SELF_HARM)      # not assaults
        + rows("RHW", "2025-01", [(C, 40, False)], start=901, intent=ACCIDENT)
        + rows("RHW", "2025-01", [(A, 19, False)], start=902, dupe=True))           # flagged duplicate
    (ecds / "ecds-RDU-2025-01.csv").write_text(ECDS_HEADER + rows("RDU", "2025-01", JANUARY_RDU))
    # February: only the Royal Berkshire's trust delivered, so no area of the force has February
    (ecds / "ecds-RHW-2025-02.csv").write_text(ECDS_HEADER + rows("RHW", "2025-02", [(A, 20, False), (B, 21, True)]))

    with private_warehouse(root) as warehouse, pytest.MonkeyPatch.context() as patch:
        patch.setenv("VRU_PSEUDONYMISATION_KEY", KEY)
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.sources.ae import AE_ECDS

        pipeline.load_reference(landing)
        # as a data engineer would: the original first, then the folder (which holds the correction)
        pipeline.ingest(AE_ECDS, ecds / "ecds-RHW-2025-01.csv")
        pipeline.ingest(AE_ECDS, ecds)
        from ingestion.publish import publish
        from ingestion.transform import run_dbt

        pipeline.check_raw()
        run_dbt(["build"])
        pipeline.check_marts()
        publish()
        settings = get_settings()
        yield settings.working_db, settings.published_db, warehouse


def byar(o: float, z: float) -> tuple[float, float]:
    return (o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3,
            (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * math.sqrt(o + 1))) ** 3)


def nhs_rounded(count: int) -> int:
    return int(5 * math.floor(count / 5 + 0.5))


def published(con, indicator: str, area: str, month: str = "2025-01-01"):
    return con.execute(
        "SELECT numerator, denominator, value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998, "
        "suppression_reason, value_note FROM fct_indicator_value WHERE indicator_id = ? AND area_code = ? "
        "AND period_type = 'month' AND period_start = ?", [indicator, area, month]).fetchone()


def test_crude_rates_are_those_of_the_published_rounded_count(built):
    _, published_db, _ = built
    lsoas = {READING: (A, B), SLOUGH: (C, D)}
    with duckdb.connect(str(published_db), read_only=True) as con:
        for area, indicator, keep, population in [
            (READING, "ae_assault_rate", lambda lsoa, age, sharp: True, 1820),
            (SLOUGH, "ae_assault_rate", lambda lsoa, age, sharp: True, 1820),
            (READING, "ae_assault_10_24_rate", lambda lsoa, age, sharp: 10 <= age <= 24, 300),
        ]:
            true = sum(1 for x in JANUARY + JANUARY_RDU if x[0] in lsoas[area] and keep(*x))
            shown = nhs_rounded(true)
            assert shown >= 10
            got = published(con, indicator, area)
            assert got[0] == shown and got[1] == population, (indicator, area, true)
            assert got[2] == pytest.approx(shown / population * 100_000, rel=1e-12)
            low, high = byar(shown, norm.ppf(0.975))
            assert got[3:5] == pytest.approx((low / population * 100_000, high / population * 100_000), rel=1e-9)


def test_the_age_standardised_rate_is_that_of_the_published_count_with_dobson_limits(built):
    """phe_dsr on the band counts scaled to the published count (so its limits cannot give the
    true count back: with the true count, (upper − dsr) / (dsr − lower) is a function of it alone)."""
    working_db, published_db, _ = built
    counts = np.zeros(19)
    for lsoa, age, _ in JANUARY:
        if lsoa in (A, B):
            counts[min(age // 5, 18)] += 1
    population = np.array([100.0] * 18 + [20.0])           # two LSOAs: 50 a band, 10 aged 90+ each
    true = counts.sum()
    shown = nhs_rounded(int(true))
    assert (true, shown) == (23, 25)

    def dsr_and_limits(o, z):
        dsr = (ESP2013 * o / population).sum() / ESP2013.sum() * 100_000
        var = (ESP2013 ** 2 * o / population ** 2).sum() / ESP2013.sum() ** 2 * 100_000 ** 2
        low, high = byar(o.sum(), z)
        return dsr, dsr + math.sqrt(var / o.sum()) * (low - o.sum()), dsr + math.sqrt(var / o.sum()) * (high - o.sum())

    with duckdb.connect(str(working_db), read_only=True) as con:   # the engine's own, before disclosure
        assert con.execute(
            "SELECT numerator, value, lower_ci_95, upper_ci_95 FROM intermediate.int_indicator__value "
            "WHERE indicator_id = 'ae_assault_dsr' AND area_code = ? AND period_type = 'month' "
            "AND period_start = '2025-01-01'", [READING]).fetchone() == pytest.approx(
                (true, *dsr_and_limits(counts, norm.ppf(0.975))), rel=1e-9)
    scaled = counts * shown / true
    with duckdb.connect(str(published_db), read_only=True) as con:
        got = published(con, "ae_assault_dsr", READING)
    assert got[0] == shown
    assert got[2:5] == pytest.approx(dsr_and_limits(scaled, norm.ppf(0.975)), rel=1e-9)
    assert got[5:7] == pytest.approx(dsr_and_limits(scaled, norm.ppf(0.999))[1:], rel=1e-9)


def test_the_10_24_rate_is_standardised_over_its_own_three_bands(built):
    """ESP2013 weights of 10–14, 15–19 and 20–24 only (5,500, 5,500, 6,000): the other bands'
    weights would dilute it toward zero."""
    _, published_db, _ = built
    counts = np.zeros(3)
    for lsoa, age, _ in JANUARY:
        if lsoa in (A, B) and 10 <= age <= 24:
            counts[age // 5 - 2] += 1
    assert counts.tolist() == [2, 5, 5]
    weights, population = ESP2013[2:5], np.full(3, 100.0)
    shown = nhs_rounded(int(counts.sum()))
    o = counts * shown / counts.sum()
    dsr = (weights * o / population).sum() / weights.sum() * 100_000
    var = (weights ** 2 * o / population ** 2).sum() / weights.sum() ** 2 * 100_000 ** 2
    low, high = byar(o.sum(), norm.ppf(0.975))
    with duckdb.connect(str(published_db), read_only=True) as con:
        got = published(con, "ae_assault_10_24_dsr", READING)
    assert got[0] == shown == 10
    assert got[2:5] == pytest.approx((dsr, dsr + math.sqrt(var / o.sum()) * (low - o.sum()),
                                      dsr + math.sqrt(var / o.sum()) * (high - o.sum())), rel=1e-9)


def test_every_published_ae_count_is_rounded_or_hidden_and_small_ones_never_show(built):
    _, published_db, _ = built
    with duckdb.connect(str(published_db), read_only=True) as con:
        cells = con.execute("""SELECT numerator, value, suppression_reason, value_note FROM fct_indicator_value
                               WHERE indicator_id LIKE 'ae_%'""").fetchall()
        sharp = published(con, "ae_sharp_assault_u25_rate", READING)
    assert cells
    for numerator, value, reason, note in cells:
        if numerator is None:
            assert value is None and (reason or note)
        else:
            assert numerator % 5 == 0 and numerator >= 10, numerator
            assert value is not None or numerator < 10
    # three sharp-object attendances under 25 in Reading: hidden, no value
    assert sharp[0] is None and sharp[2] is None and "0 to 7" in sharp[7]


def test_a_correction_replaces_and_a_trust_that_sent_nothing_makes_the_month_not_delivered(built):
    _, published_db, _ = built
    with duckdb.connect(str(published_db), read_only=True) as con:
        # January as corrected: the force's 35 (23 + 12), not the original's, never both
        assert published(con, "ae_assault_rate", PFA)[0] == nhs_rounded(len(JANUARY) + len(JANUARY_RDU)) == 35
        for indicator in ("ae_assault_rate", "ae_assault_dsr", "ae_assault_10_24_rate", "ae_assault_10_24_dsr",
                          "ae_sharp_assault_u25_rate"):
            for area in (READING, SLOUGH, PFA):
                february = published(con, indicator, area, "2025-02-01")
                assert february[0] is None and february[2] is None and february[8] == "not delivered", (indicator, area)
        coverage = con.execute("""SELECT reporting_unit, period_start::VARCHAR, delivery_status, records
                                  FROM fct_source_coverage WHERE source = 'ae_ecds' ORDER BY 1, 2""").fetchall()
    # who delivered, never how many records (health data)
    assert coverage == [("RDU", "2025-01-01", "delivered", None), ("RDU", "2025-02-01", "not delivered", None),
                        ("RHW", "2025-01-01", "delivered", None), ("RHW", "2025-02-01", "delivered", None)]


def test_the_multi_agency_view_holds_only_published_figures(built):
    _, published_db, _ = built
    with duckdb.connect(str(published_db), read_only=True) as con:
        view = con.execute("""SELECT m.ae_assault_residence_count, f.numerator
                              FROM fct_multi_agency_lsoa_month AS m
                              JOIN fct_indicator_value AS f ON f.area_code = m.lsoa21_code AND f.area_type = 'lsoa'
                               AND f.period_type = 'month' AND f.period_start = m.month_start
                               AND f.indicator_id = 'ae_assault_rate'""").fetchall()
    assert view and all(a == b or (a is None and b is None) for a, b in view)


def test_no_identifier_reaches_any_table_of_any_warehouse_file(built):
    working_db, published_db, warehouse = built
    files = sorted(warehouse.rglob("*.duckdb"))
    assert working_db in files and published_db in files
    for path in files:
        with duckdb.connect(str(path), read_only=True) as con:
            values = every_value(con)
        assert not leaks(values), path
        assert not BIRTH_DATES & set(values), path
        raw = path.read_bytes()
        assert not [x for x in [*IDENTIFYING, *BIRTH_DATES] if x.encode() in raw], path


def test_an_attacker_with_the_published_file_recovers_no_hidden_ae_count(built):
    from disclosure_attack import attack

    _, published_db, _ = built
    result = attack(published_db)
    assert result["hidden"] > 0 and result["inconsistent"] == 0
    assert not result["recovered"] and result["ci_leaks"] == 0 and not result["trend_leaks"]
    assert result["reason_on_shown"] == 0


def test_a_late_correction_rebuilt_incrementally_equals_a_full_rebuild(built, tmp_path):
    """A trust's third revision of January arrives after the build: the incremental build redoes
    January's periods only, and its marts equal a full rebuild's, row for row."""
    import shutil

    from ingestion import pipeline
    from ingestion.settings import get_settings
    from ingestion.sources.ae import AE_ECDS
    from ingestion.transform import run_dbt

    _, _, warehouse = built
    copy = tmp_path / "warehouse"
    shutil.copytree(warehouse, copy, ignore=shutil.ignore_patterns("*.lock", "published"))
    fewer = [x for x in JANUARY if x[0] != C]                       # Slough 001A's seven withdrawn
    correction = tmp_path / "ecds-RHW-2025-01-r3.csv"
    correction.write_text(ECDS_HEADER + rows("RHW", "2025-01", fewer))
    marts = ["fct_indicator_value", "fct_multi_agency_lsoa_month", "fct_source_coverage", "fct_ae_assault_profile"]

    def snapshot() -> dict:
        with duckdb.connect(str(get_settings().working_db), read_only=True) as con:
            return {m: con.execute(f"SELECT * FROM marts.{m} ORDER BY ALL").fetchall() for m in marts}

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VRU_WAREHOUSE_DIR", str(copy))
        patch.setenv("VRU_PSEUDONYMISATION_KEY", KEY)
        pipeline.ingest(AE_ECDS, correction)
        run_dbt(["build"])
        incremental = snapshot()
        run_dbt(["build", "--full-refresh"])
        full = snapshot()
        with duckdb.connect(str(get_settings().working_db), read_only=True) as con:
            slough = published(con.cursor().execute("USE marts"), "ae_assault_rate", SLOUGH)
    assert incremental == full
    assert slough[0] is None                # D's three and Wexham Park's two: 5, hidden
