"""The age-standardised path of the indicator engine end to end: events by age → ESP2013 bands →
DSR with Dobson limits at LSOA and (summed by band, not averaged) at LAD level, against the
PHEindicatormethods phe_dsr formulas written out here with numpy."""

from __future__ import annotations

import json
import math
import re

import duckdb
import numpy as np
import pytest
from scipy.stats import chi2, norm

from conftest import MINI_LSOAS, private_warehouse, write_mini_reference

ESP2013 = np.array([5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000, 5500,
                    5000, 4000, 2500, 1500, 1000], dtype=float)
A, B, C = MINI_LSOAS[0][0], MINI_LSOAS[1][0], MINI_LSOAS[2][0]
# Reading (A + B) 31 events; Slough (C, and D with none) 7: too few for a DSR
EVENTS = {A: {17: 3, 19: 4, 22: 6, 30: 5, 45: 2, 70: 1}, B: {16: 2, 20: 3, 33: 4, 90: 1}, C: {40: 4, 62: 3}}
DSR_INDICATOR = {
    "id": "test_dsr", "name": "Test age-standardised rate", "definition": "fixture events by age",
    "numerator": {"model": "fixture_age_events", "measure": "events", "description": "fixture events"},
    "denominator": {"population": "population_all_ages", "description": "all ages"},
    "multiplier": 100000, "method": "dsr", "polarity": "lower_is_better", "disclosure": "none",
    "source": "test", "area_types": ["lsoa", "lad", "pfa"], "period_types": ["month"],
}

# the same events where one person may have several (PHEindicatormethods independent_events = FALSE)
DSR_REPEAT = {**DSR_INDICATOR, "id": "test_dsr_repeat", "name": "Test DSR of events that are not independent",
              "numerator": {**DSR_INDICATOR["numerator"], "person": "person"}}
# indirectly standardised to the force area's age-specific rates (PHEindicatormethods
# calculate_ISRatio with refvalue 100, and calculate_ISRate per 100,000)
ISRATIO = {**DSR_INDICATOR, "id": "test_isratio", "name": "Test indirectly standardised ratio", "method": "isratio",
           "multiplier": 100, "standardised_to": "pfa", "area_types": ["lsoa", "lad", "pfa"]}
ISRATE = {**ISRATIO, "id": "test_israte", "name": "Test indirectly standardised rate", "method": "israte",
          "multiplier": 100000}


def band(age: int) -> int:
    return min(age // 5, 18)


# people of each sex at each single year of age 0–89 and at 90+, by LSOA: A 5 (50 a band, 10 in
# 90+), B older (3 under 45, 8 from 45), C 4, D 6; so age structures differ and an indirectly
# standardised ratio is not the crude one
PER_AGE = {A: lambda a: 5, B: lambda a: 3 if a < 45 else 8, C: lambda a: 4, MINI_LSOAS[3][0]: lambda a: 6}


def band_population(lsoas: list[str]) -> np.ndarray:
    n = np.zeros(19)
    for lsoa in lsoas:
        for age in range(91):
            n[band(age)] += 2 * PER_AGE[lsoa](age)
    return n


def write_landing(root, events: dict) -> tuple:
    landing = write_mini_reference(root / "landing")
    ages = [f"F{a}" for a in range(91)] + [f"M{a}" for a in range(91)]
    lines = ["LAD 2023 Code,LAD 2023 Name,LSOA 2021 Code,LSOA 2021 Name,Total," + ",".join(ages)]
    for code, name, lad, lad_name, _ in MINI_LSOAS:
        counts = [PER_AGE[code](a) for a in range(91)] * 2
        lines.append(",".join([lad, lad_name, code, name, str(sum(counts)), *map(str, counts)]))
    (landing / "population" / "sapelsoasyoa_mid2024.csv").write_text("\n".join(lines) + "\n")
    events_csv = root / "age_events.csv"
    # each row's events are one person's (a person per LSOA and age): not independent events
    events_csv.write_text("lsoa21_code,month_start,age,events,person\n" + "".join(
        f"{lsoa},2025-01-01,{age},{n},{lsoa}-{age}\n" for lsoa, by_age in events.items() for age, n in by_age.items()))
    return landing, events_csv


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("dsr")
    landing, events_csv = write_landing(root, EVENTS)

    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        pipeline.load_reference(landing)
        variables = {"indicators": [DSR_INDICATOR, ISRATIO, ISRATE, DSR_REPEAT], "fixture_age_events_csv": str(events_csv)}
        run_dbt(["build", "--select", "+fct_indicator_value", "--indirect-selection", "cautious",
                 "--vars", json.dumps(variables)])
        yield get_settings().working_db


def expected_dsr(lsoas: list[str]) -> tuple[float, float, float]:
    """phe_dsr: dsr = Σ w·O/n / Σ w × 100,000; var = Σ w²·O/n² / (Σ w)²;
    limits = dsr + sqrt(var/ΣO) × (Byar limit on ΣO − ΣO) × 100,000."""
    o = np.zeros(19)
    for lsoa in lsoas:
        for age, n in EVENTS.get(lsoa, {}).items():
            o[band(age)] += n
    n = band_population(lsoas)
    dsr = (ESP2013 * o / n).sum() / ESP2013.sum() * 100_000
    var = (ESP2013 ** 2 * o / n ** 2).sum() / ESP2013.sum() ** 2
    total, z = o.sum(), norm.ppf(0.975)
    low = total * (1 - 1 / (9 * total) - z / (3 * math.sqrt(total))) ** 3
    high = (total + 1) * (1 - 1 / (9 * (total + 1)) + z / (3 * math.sqrt(total + 1))) ** 3
    scale = math.sqrt(var / total) * 100_000
    return dsr, dsr + scale * (low - total), dsr + scale * (high - total)


@pytest.mark.parametrize("area, lsoas", [(A, [A]), ("E06000038", [A, B])])
def test_dsr_and_dobson_limits_match_phe_formulas(built, area, lsoas):
    with duckdb.connect(str(built), read_only=True) as con:
        numerator, value, low, high = con.execute(
            """SELECT numerator, value, lower_ci_95, upper_ci_95 FROM marts.fct_indicator_value
               WHERE indicator_id = 'test_dsr' AND area_code = ? AND period_type = 'month'""", [area]).fetchone()
    dsr, dsr_low, dsr_high = expected_dsr(lsoas)
    assert numerator == sum(sum(EVENTS[lsoa].values()) for lsoa in lsoas)
    assert value == pytest.approx(dsr, rel=5e-7)
    assert low == pytest.approx(dsr_low, rel=5e-7)
    assert high == pytest.approx(dsr_high, rel=5e-7)


@pytest.mark.parametrize("area", [C, "E06000039"])
def test_no_dsr_below_ten_events_whatever_the_disclosure_rule(built, area):
    # PHEindicatormethods calculate_dsr: below 10 events neither the rate nor its limits exist,
    # even under disclosure 'none' (the count itself is still shown)
    with duckdb.connect(str(built), read_only=True) as con:
        got = con.execute(
            """SELECT numerator, value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998, is_suppressed,
                      suppression_reason FROM marts.fct_indicator_value
               WHERE indicator_id = 'test_dsr' AND area_code = ? AND period_type = 'month'""", [area]).fetchone()
    assert got == (7, None, None, None, None, None, True,
                   "fewer than 10 events: a directly standardised rate is not calculated")


PROPORTION = {
    "id": "test_share", "name": "Test share", "definition": "fixture events under 50 of all events at 50 and over",
    "numerator": {"model": "fixture_age_events", "measure": "events", "where": "age < 50", "description": "under 50"},
    "denominator": {"model": "fixture_age_events", "measure": "events", "where": "age >= 50",
                    "description": "50 and over"},
    "multiplier": 100, "method": "proportion", "polarity": "no_judgement", "disclosure": "none",
    "source": "test", "area_types": ["lsoa", "lad"], "period_types": ["month"],
}


@pytest.mark.parametrize("indicator, events, message", [
    # a negative count (a numerator model's mistake) stops the build at the first area it reaches
    (DSR_INDICATOR, {A: {30: 4, 40: -9}},
     (r"indicator test_dsr, (lsoa E01090001|lad E06000038|pfa E23000029), month from 2025-01-01: negative numerator "
      r"\(numerator -5\.0, denominator")),
    # a proportion whose numerator is not part of its denominator (a catalogue mistake)
    (PROPORTION, {C: {20: 5, 60: 2}},
     (r"indicator test_share, (lsoa E01090003|lad E06000039), month from 2025-01-01: numerator greater than the "
      r"denominator of a proportion \(numerator 5\.0, denominator 2\.0\)")),
])
def test_invalid_input_stops_the_build_naming_indicator_area_and_period(tmp_path, indicator, events, message):
    from ingestion.transform import DbtFailed, run_dbt

    landing, events_csv = write_landing(tmp_path, events)
    with private_warehouse(tmp_path):
        from ingestion import pipeline

        pipeline.load_reference(landing)
        variables = {"indicators": [indicator], "fixture_age_events_csv": str(events_csv)}
        with pytest.raises(DbtFailed) as failed:
            run_dbt(["build", "--select", "+int_indicator__value", "--exclude-resource-type", "test",
                     "--vars", json.dumps(variables)])
    assert re.search(message, str(failed.value)), str(failed.value)


def expected_isr(lsoas: list[str]) -> tuple[float, float, float, float]:
    """calculate_ISRatio / calculate_ISRate: E = Σ_bands (O_ref / n_ref) × n; ratio = O / E; the
    limits exact Poisson (scipy chi2) below 10 events, Byar from 10, divided by E; the rate is the
    ratio × the reference rate ΣO_ref / Σn_ref."""
    everyone = list(PER_AGE)
    o_ref, n_ref, o = np.zeros(19), band_population(everyone), np.zeros(19)
    for lsoa, by_age in EVENTS.items():
        for age, count in by_age.items():
            o_ref[band(age)] += count
            if lsoa in lsoas:
                o[band(age)] += count
    expected = (o_ref / n_ref * band_population(lsoas)).sum()
    total, z = o.sum(), norm.ppf(0.975)
    if total < 10:
        low, high = (chi2.ppf(0.025, 2 * total) / 2 if total else 0.0), chi2.ppf(0.975, 2 * total + 2) / 2
    else:
        low = total * (1 - 1 / (9 * total) - z / (3 * math.sqrt(total))) ** 3
        high = (total + 1) * (1 - 1 / (9 * (total + 1)) + z / (3 * math.sqrt(total + 1))) ** 3
    return total / expected, low / expected, high / expected, o_ref.sum() / n_ref.sum()


@pytest.mark.parametrize("area, lsoas", [(A, [A]), (B, [B]), (C, [C]), ("E06000038", [A, B]),
                                         ("E23000029", list(PER_AGE))])
def test_indirectly_standardised_ratio_and_rate_match_phe_formulas(built, area, lsoas):
    ratio, low, high, reference_rate = expected_isr(lsoas)
    with duckdb.connect(str(built), read_only=True) as con:
        got = dict(con.execute(
            """SELECT indicator_id, [value, lower_ci_95, upper_ci_95] FROM marts.fct_indicator_value
               WHERE indicator_id IN ('test_isratio', 'test_israte') AND area_code = ? AND period_type = 'month'""",
            [area]).fetchall())
    assert got["test_isratio"] == pytest.approx([100 * ratio, 100 * low, 100 * high], rel=5e-7)
    assert got["test_israte"] == pytest.approx([100_000 * reference_rate * x for x in (ratio, low, high)], rel=5e-7)
    if area == "E23000029":     # the reference area is its own standard
        assert got["test_isratio"][0] == pytest.approx(100, rel=1e-12)
    assert abs(ratio - 1) > 0.05 or area == "E23000029"   # the fixture's age structures matter


@pytest.mark.parametrize("area, lsoas", [(A, [A]), ("E06000038", [A, B]), ("E23000029", list(PER_AGE))])
def test_dsr_limits_for_events_that_are_not_independent(built, area, lsoas):
    """calculate_dsr with independent_events = FALSE, written out: per event frequency f, the
    variance of the rate of persons with exactly f events, Σ_bands x_bf w² / n² / (Σ w)²; their
    sum weighted by f² replaces the variance in Dobson's limits. Here each fixture row is one
    person's events (A's 6 at age 22 are one person's), so the limits are wider than for the same
    events counted as independent; the rate itself is the same."""
    people: dict[tuple[int, int], int] = {}                      # (band, f) → persons
    o = np.zeros(19)
    for lsoa in lsoas:
        for age, count in EVENTS.get(lsoa, {}).items():
            people[(band(age), count)] = people.get((band(age), count), 0) + 1
            o[band(age)] += count
    n = band_population(lsoas)
    variance = sum(f * f * x * ESP2013[b] ** 2 / n[b] ** 2 for (b, f), x in people.items()) / ESP2013.sum() ** 2
    dsr, independent_low, independent_high = expected_dsr(lsoas)
    total, z = o.sum(), norm.ppf(0.975)
    low = total * (1 - 1 / (9 * total) - z / (3 * math.sqrt(total))) ** 3
    high = (total + 1) * (1 - 1 / (9 * (total + 1)) + z / (3 * math.sqrt(total + 1))) ** 3
    scale = math.sqrt(variance / total) * 100_000
    with duckdb.connect(str(built), read_only=True) as con:
        value, lower, upper = con.execute(
            """SELECT value, lower_ci_95, upper_ci_95 FROM marts.fct_indicator_value
               WHERE indicator_id = 'test_dsr_repeat' AND area_code = ? AND period_type = 'month'""", [area]).fetchone()
    assert value == pytest.approx(dsr, rel=5e-7)
    assert [lower, upper] == pytest.approx([dsr + scale * (low - total), dsr + scale * (high - total)], rel=5e-7)
    assert lower < independent_low and upper > independent_high
