"""The indicator engine on a catalogue given at run time (dbt --vars): a health-style indicator
under the NHS small-number rule, periods, trend, and the docs site."""

from __future__ import annotations

import json
from collections import defaultdict

import duckdb
import pytest

from conftest import MINI_LSOAS, private_warehouse, write_mini_reference
from disclosure_attack import attack
from test_police_street_load import VIOLENCE, write_street

A, B, C, D = (lsoa[:2] for lsoa in MINI_LSOAS)
# Five months of violence in LSOA A rising steadily; B, C, D as in the January hand counts.
MONTHLY_A = {"2025-01": 12, "2025-02": 14, "2025-03": 18, "2025-04": 22, "2025-05": 30}

HEALTH_STYLE = {
    "id": "test_small_numbers_rate", "name": "Test indicator under the NHS small-number rule",
    "definition": "Police violence counted as if it were hospital data, to exercise disclosure control.",
    "numerator": {"model": "int_police__crime_lsoa_month", "measure": "crime_count",
                  "where": "crime_type = 'Violence and sexual offences'", "description": "violence"},
    "denominator": {"population": "population_all_ages", "description": "all ages"},
    "multiplier": 100000, "method": "crude_rate", "polarity": "lower_is_better",
    "disclosure": "nhs_small_numbers", "source": "test",
    "area_types": ["lsoa", "msoa", "lad", "utla", "csp", "pfa"],
    "period_types": ["month", "quarter", "calendar_year", "rolling_12_months"],
}
NO_POLARITY = {**HEALTH_STYLE, "id": "test_no_polarity", "polarity": "no_judgement", "disclosure": "none"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        for month, count in MONTHLY_A.items():
            spec = [(A, VIOLENCE, count)]
            if month == "2025-01":
                spec += [(B, VIOLENCE, 3), (D, VIOLENCE, 21)]
            write_street(landing / "police", month, spec)
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build", "--vars", json.dumps({"indicators": [HEALTH_STYLE, NO_POLARITY]})])
        run_dbt(["docs", "generate", "--vars", json.dumps({"indicators": [HEALTH_STYLE, NO_POLARITY]})])
        yield get_settings()


def rows(settings, sql, params=()):
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_small_counts_hidden_others_rounded_and_no_subtraction_reveals_them(built):
    jan = {a: (n, r, c) for a, n, r, c in rows(built, """
        SELECT v.area_code, v.numerator, v.suppression_reason, d.suppression_cause FROM marts.fct_indicator_value AS v
        JOIN intermediate.int_indicator__disclosed AS d USING (indicator_id, area_code, area_type, period_type, period_start)
        WHERE v.indicator_id = 'test_small_numbers_rate' AND v.period_type = 'month' AND v.period_start = '2025-01-01'
          AND v.area_type IN ('lsoa', 'msoa', 'pfa')""")}
    # B has 3 and C none: both hidden (0–7). A (12) is the only other LSOA in MSOA Reading 001,
    # whose total (15) is published, so B = MSOA − A is only known to lie in 15 ± 2 − (12 ± 2),
    # 0 to 7 (shown counts are rounded): A stays published, rounded to 10. D's 21 rounds to 20,
    # the PFA's 36 to 35. The published reason is the same for 0 and 3, so the file does not say
    # which is which.
    assert jan[B[0]][0] is None and jan[B[0]][2] == "small count"
    assert jan[C[0]][0] is None and jan[C[0]][2] == "small count"
    assert jan[C[0]][1] == jan[B[0]][1] and jan[B[0]][1].startswith("hidden: a count from 0 to 7, or")
    assert (jan[A[0]][0], jan[D[0]][0]) == (10, 20)
    assert (jan["E02090001"][0], jan["E23000029"][0]) == (15, 35)


def test_no_published_count_below_eight_and_no_hidden_count_recovered(built):
    published = rows(built, """SELECT numerator FROM marts.fct_indicator_value
                               WHERE indicator_id = 'test_small_numbers_rate' AND numerator IS NOT NULL""")
    assert published and all(n >= 10 for (n,) in published)
    assert all(n % 5 == 0 for (n,) in published)
    # an attacker with the whole file (tests/disclosure_attack.py) pins no hidden count
    found = attack(built.working_db, schema="marts")
    assert found["hidden"] > 0 and found["recovered"] == [] and found["inconsistent"] == 0


def test_periods_are_complete_and_sum_their_months(built):
    got = rows(built, """SELECT period_type, strftime(period_start, '%Y-%m'), numerator FROM marts.fct_indicator_value
                         WHERE indicator_id = 'test_no_polarity' AND area_code = ? ORDER BY 1, 2""", [A[0]])
    by_type = defaultdict(list)
    for period_type, start, numerator in got:
        by_type[period_type].append((start, numerator))
    assert by_type["month"] == list(MONTHLY_A.items())
    assert by_type["quarter"] == [("2025-01", 12 + 14 + 18)]        # Q2 lacks June: held back
    assert "calendar_year" not in by_type and "rolling_12_months" not in by_type


def cochran_armitage(o: list[float], n: list[float]) -> tuple[float, float]:
    """Chi-squared for trend and its score, worked out from the published formula (t = 1..k)."""
    t = list(range(1, len(o) + 1))
    total_o, total_n = sum(o), sum(n)
    p = total_o / total_n
    score = sum(oi * ti for oi, ti in zip(o, t, strict=True)) - p * sum(ni * ti for ni, ti in zip(n, t, strict=True))
    variance = p * (1 - p) * (sum(ni * ti * ti for ni, ti in zip(n, t, strict=True))
                              - sum(ni * ti for ni, ti in zip(n, t, strict=True)) ** 2 / total_n)
    return score ** 2 / variance, score


def test_a_rising_monthly_series_is_not_tested_for_trend(built):
    # A's five months, 12, 14, 18, 22, 30, would be "increasing" far beyond chance as a series,
    # but months (and quarters) are never tested, season being no trend; with no complete year
    # nor rolling 12 months there is nothing to test (tests/test_indicator_trend.py tests years)
    chi, score = cochran_armitage(list(MONTHLY_A.values()), [1500.0] * 5)
    assert chi > 3.841 and score > 0
    assert rows(built, "SELECT count(*) FROM marts.fct_indicator_trend") == [(0,)]


def test_dim_indicator_comes_from_the_catalogue(built):
    assert rows(built, "SELECT indicator_id, multiplier, disclosure_rule, period_types FROM marts.dim_indicator ORDER BY 1") == [
        ("test_no_polarity", 100000, "none", "month,quarter,calendar_year,rolling_12_months"),
        ("test_small_numbers_rate", 100000, "nhs_small_numbers", "month,quarter,calendar_year,rolling_12_months")]


def test_docs_site_is_generated_with_every_mart_described(built):
    target = built.warehouse_dir / "dbt_target"
    assert (target / "index.html").exists()
    manifest = json.loads((target / "manifest.json").read_text())
    marts = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"]
    assert {m["name"] for m in marts} >= {"dim_area", "dim_period", "dim_indicator", "fct_indicator_value",
                                          "fct_indicator_trend", "fct_area_population"}
    for model in marts:
        assert model["description"], model["name"]
        assert all(c["description"] for c in model["columns"].values()), model["name"]
    assert {e["name"] for e in manifest["exposures"].values()} == {"published_warehouse", "bi_dashboards", "html_report"}


@pytest.mark.parametrize("change, message", [
    ({"polarity": "up_is_good"}, "test_small_numbers_rate polarity 'up_is_good' is not one of"),
    ({"period_types": ["fortnight"]}, "period type 'fortnight' is not one of"),
    ({"method": "dsr", "denominator": {"population": "population_aged_under_25", "description": "u25"}},
     "is age-standardised (dsr): its denominator is the all-ages population"),
    # an indirectly standardised indicator names the level whose age-specific rates it expects,
    # and is shown only inside one such area
    ({"method": "isratio"}, "standardised_to must name the area level"),
    ({"method": "isratio", "standardised_to": "lad"},
     "is standardised to lad rates and cannot be shown at 'utla', which does not lie inside one lad"),
    ({"numerator": {**HEALTH_STYLE["numerator"], "person": "crime_id"}},
     "numerator.person (events that are not independent) is for directly standardised rates (dsr) only"),
])
def test_a_mistake_in_the_catalogue_stops_the_build_naming_it(tmp_path, change, message):
    from ingestion.settings import Settings
    from ingestion.transform import DbtFailed, run_dbt

    bad = {**HEALTH_STYLE, **change}
    with pytest.raises(DbtFailed) as failed:
        run_dbt(["compile", "--select", "dim_indicator", "--vars", json.dumps({"indicators": [bad]})],
                Settings(warehouse_dir=tmp_path))
    assert message in str(failed.value)
