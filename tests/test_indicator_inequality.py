"""Inequality by deprivation (PHEindicatormethods phe_sii): quantile values summed from LSOAs by
IMD 2019 decile and quintile inside each area, the slope and relative index of inequality with
their confidence intervals, and disclosure control, on a fixture small enough to follow: two
districts of ten LSOAs each, one LSOA per national decile (Slough has two in decile 9 and none in
10), a quarter of police-recorded crime."""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pytest
from scipy import stats

from conftest import private_warehouse
from disclosure_attack import attack
from test_police_street_load import ROBBERY, VIOLENCE, write_street

Z = 1.959963984540054
READING, SLOUGH, PFA = "E06000038", "E06000039", "E23000029"
# (code, district, IMD decile, population, violence, robbery) in the quarter
LSOAS = [(f"E0109{1000 + i:04d}", READING, d, pop, v, r) for i, (d, pop, v, r) in enumerate(zip(
    range(1, 11), [1500, 1400, 1650, 1800, 1300, 1700, 1550, 1600, 1450, 1750],
    [61, 52, 44, 38, 31, 27, 22, 19, 16, 12], [5, 6, 7, 8, 9, 10, 11, 12, 13, 14], strict=True), 1)] + [
    (f"E0109{1010 + i:04d}", SLOUGH, d, pop, v, r) for i, (d, pop, v, r) in enumerate(zip(
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 9], [1600, 1500, 1400, 1700, 1650, 1350, 1800, 1550, 1500, 1450],
        [41, 33, 29, 26, 21, 17, 14, 12, 3, 4], [4, 5, 6, 7, 8, 9, 10, 11, 12, 13], strict=True), 1)]
MONTHS = ["2025-01", "2025-02", "2025-03"]
PERIOD = "2025-01-01"

COMMON = {"numerator": {"model": "int_police__crime_lsoa_month", "measure": "crime_count",
                        "where": "crime_type = 'Violence and sexual offences'", "description": "violence"},
          "denominator": {"population": "population_all_ages", "description": "all ages"},
          "polarity": "lower_is_better", "source": "test", "method": "crude_rate",
          "area_types": ["lsoa", "msoa", "lad", "utla", "csp", "pfa"], "period_types": ["quarter"]}
FINGERTIPS = {**COMMON, "id": "test_violence_rate", "name": "Violence per 1,000", "definition": "Violence.",
              "multiplier": 1000, "disclosure": "rate_count_below_10"}
NHS = {**COMMON, "id": "test_violence_nhs", "name": "Violence per 100,000 (NHS rule)", "definition": "Violence.",
       "multiplier": 100000, "disclosure": "nhs_small_numbers"}
SHARE = {**COMMON, "id": "test_violence_share", "name": "Violence share (%)", "definition": "Violence of all.",
         "method": "proportion", "multiplier": 100, "disclosure": "none", "polarity": "no_judgement",
         "denominator": {"model": "int_police__crime_lsoa_month", "measure": "crime_count",
                         "where": "crime_type in ('Violence and sexual offences', 'Robbery')",
                         "description": "violence and robbery"}}
VARS = {"indicators": [FINGERTIPS, NHS, SHARE], "inequality_period_types": ["quarter"]}


def write_reference(folder, lsoas=LSOAS):
    """ONS lookups, population and IMD 2019 for the LSOAs (the twenty above unless given), in their
    published layouts."""
    ons, pop, imd = folder / "ons", folder / "population", folder / "deprivation"
    for f in (ons, pop, imd):
        f.mkdir(parents=True, exist_ok=True)
    names = {READING: ("Reading", "E22000309", "Reading"), SLOUGH: ("Slough", "E22000310", "Slough")}
    msoa = {READING: "E02091001", SLOUGH: "E02091002"}
    (ons / "LSOA21_WD24_LAD24_EW_LU.csv").write_text(
        "LSOA21CD,LSOA21NM,WD24CD,WD24NM,LAD24CD,LAD24NM,ObjectId\n"
        + "".join(f"{c},{names[lad][0]} {i:03d},E05090001,Ward,{lad},{names[lad][0]},{i}\n"
                  for i, (c, lad, *_) in enumerate(lsoas, 1)))
    (ons / "LAD24_CSP24_PFA24_EW_LU.csv").write_text(
        "LAD24CD,LAD24NM,CSP24CD,CSP24NM,PFA24CD,PFA24NM,ObjectId\n"
        + "".join(f"{lad},{n},{csp},{cspn},{PFA},Thames Valley,{i}\n"
                  for i, (lad, (n, csp, cspn)) in enumerate(names.items(), 1)))
    (ons / "LAD24_RGN24_EN_LU.csv").write_text(
        "LAD24CD,LAD24NM,RGN24CD,RGN24NM,ObjectId\n"
        + "".join(f"{lad},{n},E12000008,South East,{i}\n" for i, (lad, (n, _, _)) in enumerate(names.items(), 1)))
    (ons / "OA21_LSOA21_MSOA21_LAD22_EW_LU.csv").write_text(
        "OA21CD,LSOA21CD,LSOA21NM,MSOA21CD,MSOA21NM,ObjectId\n"
        + "".join(f"E0090{i:04d},{c},{names[lad][0]} {i:03d},{msoa[lad]},{names[lad][0]} 001,{i}\n"
                  for i, (c, lad, *_) in enumerate(lsoas, 1)))
    (ons / "LSOA11_LSOA21_LAD22_EW_LU.csv").write_text(
        "F_LSOA11CD,LSOA11NM,CHGIND,LSOA21CD,LSOA21NM,LAD22CD,LAD22NM,ObjectId\n"
        + "".join(f"{c},{names[lad][0]} {i:03d},U,{c},{names[lad][0]} {i:03d},{lad},{names[lad][0]},{i}\n"
                  for i, (c, lad, *_) in enumerate(lsoas, 1)))
    ages = [f"F{a}" for a in range(91)] + [f"M{a}" for a in range(91)]
    rows = []
    for i, (code, lad, _, total, _, _) in enumerate(lsoas, 1):
        counts = [0] * len(ages)
        counts[ages.index("F30")], counts[ages.index("M30")] = total // 2, total - total // 2
        rows.append(",".join([lad, names[lad][0], code, f"{names[lad][0]} {i:03d}", str(total), *map(str, counts)]))
    (pop / "sapelsoasyoa_mid2024.csv").write_text(
        "LAD 2023 Code,LAD 2023 Name,LSOA 2021 Code,LSOA 2021 Name,Total," + ",".join(ages) + "\n"
        + "\n".join(rows) + "\n")
    (imd / "File_7_IoD2019.csv").write_text(
        "LSOA code (2011),LSOA name (2011),Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived),"
        "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)\n"
        + "".join(f"{c},{names[lad][0]} {i:03d},{3000 * d - i},{d}\n" for i, (c, lad, d, *_) in enumerate(lsoas, 1)))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("inequality")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = root / "landing"
        write_reference(landing)
        # each LSOA's quarter spread over its months (a third each, the rest in January)
        for m, month in enumerate(MONTHS):
            spec = []
            for code, _, _, _, violence, robbery in LSOAS:
                for crime_type, total in ((VIOLENCE, violence), (ROBBERY, robbery)):
                    count = total // 3 + (total % 3 if m == 0 else 0)
                    if count:
                        spec.append(((code, "x"), crime_type, count))
            write_street(landing / "police", month, spec)
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build", "--vars", json.dumps(VARS)])
        yield get_settings()


def rows(settings, sql, params=()):
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


# --- independent reference: the quantiles, their CIs and phe_sii worked out here ---------------

def quantiles(area: str, quantile_type: str) -> dict[int, tuple[int, int]]:
    """{quantile: (violence, population)} summed from the fixture's LSOAs in the area (the force
    area holds them all)."""
    found: dict[int, list[int]] = {}
    for _, district, decile, population, violence, _ in LSOAS:
        if area in (district, PFA):
            total = found.setdefault(decile if quantile_type == "decile" else (decile + 1) // 2, [0, 0])
            total[0] += violence
            total[1] += population
    return {q: tuple(v) for q, v in sorted(found.items())}


def rate_ci(events: float, population: float, multiplier: float) -> tuple[float, float, float]:
    """Crude rate with Byar's limits from 10 events, exact Poisson (scipy's chi-squared) below."""
    if events < 10:
        lower = stats.chi2.ppf(0.025, 2 * events) / 2 if events else 0.0
        upper = stats.chi2.ppf(0.975, 2 * events + 2) / 2
    else:
        lower = events * (1 - 1 / (9 * events) - Z / (3 * np.sqrt(events))) ** 3
        upper = (events + 1) * (1 - 1 / (9 * (events + 1)) + Z / (3 * np.sqrt(events + 1))) ** 3
    return events / population * multiplier, lower / population * multiplier, upper / population * multiplier


def wilson_ci(events: float, total: float, multiplier: float) -> tuple[float, float, float]:
    p = events / total
    centre, half = p + Z ** 2 / (2 * total), Z * np.sqrt(p * (1 - p) / total + Z ** 2 / (4 * total ** 2))
    scale = multiplier / (1 + Z ** 2 / total)
    return p * multiplier, (centre - half) * scale, (centre + half) * scale


def phe_sii(population, value, lower, upper):
    """sii, rii, intercept by np.linalg.lstsq of √a·v on (√a, b√a); the SII's variance from the
    β1 row of (XᵀX)⁻¹Xᵀ applied to the √a-weighted values; the design matrix and se."""
    population, value = np.asarray(population, float), np.asarray(value, float)
    a = population / population.sum()
    b = np.cumsum(a) - a / 2
    x = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
    (beta0, beta1), *_ = np.linalg.lstsq(x, np.sqrt(a) * value, rcond=None)
    se = (np.asarray(upper) - np.asarray(lower)) / (2 * Z)
    row = (np.linalg.inv(x.T @ x) @ x.T)[1] * np.sqrt(a)
    return beta1, (beta0 + beta1) / beta0, beta0, float(np.sum(row ** 2 * se ** 2)), x, a, se


def stored(settings, indicator, area, quantile_type):
    return rows(settings, """
        SELECT sii, sii_lower_95, sii_upper_95, rii, rii_lower_95, rii_upper_95, intercept, quantiles, is_suppressed,
               note, ci_method
        FROM marts.fct_indicator_inequality
        WHERE indicator_id = ? AND area_code = ? AND area_type IN ('lad', 'pfa') AND quantile_type = ?
          AND period_type = 'quarter' AND period_start = ?""", [indicator, area, quantile_type, PERIOD])


# --- tests --------------------------------------------------------------------------------------

def test_quantile_counts_and_values_are_summed_from_lsoas_with_the_indicators_method(built):
    got = {(t, q): (n, d, v, lo, hi, k) for t, q, n, d, v, lo, hi, k in rows(built, """
        SELECT quantile_type, quantile, numerator, denominator, value, lower_ci_95, upper_ci_95, lsoas
        FROM marts.fct_indicator_imd_quantile
        WHERE indicator_id = 'test_violence_rate' AND area_code = ? AND period_start = ?""", [READING, PERIOD])}
    for quantile_type in ("decile", "quintile"):
        for q, (events, population) in quantiles(READING, quantile_type).items():
            value, lower, upper = rate_ci(events, population, 1000)
            n, d, v, lo, hi, lsoas = got[(quantile_type, q)]
            assert (n, d, lsoas) == (events, population, 1 if quantile_type == "decile" else 2)
            assert (v, lo, hi) == pytest.approx((value, lower, upper), rel=1e-9)
    # a proportion's quantiles: Wilson's score interval on violence of violence and robbery
    share = {q: (v, lo, hi) for q, v, lo, hi in rows(built, """
        SELECT quantile, value, lower_ci_95, upper_ci_95 FROM marts.fct_indicator_imd_quantile
        WHERE indicator_id = 'test_violence_share' AND area_code = ? AND area_type = 'lad'
          AND quantile_type = 'quintile'""", [SLOUGH])}
    for q in range(1, 6):
        members = [lsoa for lsoa in LSOAS if lsoa[1] == SLOUGH and (lsoa[2] + 1) // 2 == q]
        violence, crimes = sum(m[4] for m in members), sum(m[4] + m[5] for m in members)
        assert share[q] == pytest.approx(wilson_ci(violence, crimes, 100), rel=1e-9)


def test_sii_and_rii_match_weighted_least_squares_and_the_analytic_interval(built):
    q = quantiles(READING, "decile")
    population = [p for _, p in q.values()]
    limits = [rate_ci(e, p, 1000) for e, p in q.values()]
    value, lower, upper = (np.array(c) for c in zip(*limits, strict=True))
    sii, rii, intercept, variance, *_ = phe_sii(population, value, lower, upper)
    [got] = stored(built, "test_violence_rate", READING, "decile")
    assert got[0] == pytest.approx(sii, rel=1e-9) and got[3] == pytest.approx(rii, rel=1e-9)
    assert got[6] == pytest.approx(intercept, rel=1e-9)
    assert sii < 0 and rii < 1                       # the most deprived have the higher rate
    assert got[1:3] == pytest.approx((sii - Z * np.sqrt(variance), sii + Z * np.sqrt(variance)), rel=1e-9)
    assert got[7] == 10 and not got[8] and got[9] is None
    assert got[10].startswith("SII: normal, exact limit of PHE's simulation") and "Fieller" in got[10]


def test_the_interval_is_the_limit_of_phes_simulation(built):
    """PHE's phe_sii draws every quantile's value from N(v_i, se_i) 100,000 times, fits each draw
    and takes the 2.5th and 97.5th percentiles. A million draws (fixed seed) agree with the
    analytic SII interval within their Monte Carlo error, and the Fieller RII interval with the
    simulated ratio's percentiles to within 1%."""
    q = quantiles(PFA, "quintile")
    population = [p for _, p in q.values()]
    value, lower, upper = (np.array(c) for c in zip(*[rate_ci(e, p, 1000) for e, p in q.values()], strict=True))
    sii, rii, _, variance, x, a, se = phe_sii(population, value, lower, upper)
    draws = np.random.default_rng(20240601).normal(value, se, size=(1_000_000, len(value)))
    beta = np.linalg.solve(x.T @ x, x.T @ (np.sqrt(a) * draws).T)
    simulated_sii = np.percentile(beta[1], [2.5, 97.5])
    simulated_rii = np.percentile((beta[0] + beta[1]) / beta[0], [2.5, 97.5])
    [got] = stored(built, "test_violence_rate", PFA, "quintile")
    # the sample percentile's standard error: sqrt(p(1 − p) / n) / density at the percentile
    mc_error = np.sqrt(0.025 * 0.975 / 1_000_000) / stats.norm.pdf(Z) * np.sqrt(variance)
    assert abs(got[1] - simulated_sii[0]) < 4 * mc_error and abs(got[2] - simulated_sii[1]) < 4 * mc_error
    assert got[0] == pytest.approx(sii, rel=1e-9) and got[3] == pytest.approx(rii, rel=1e-9)
    assert got[4:6] == pytest.approx(tuple(simulated_rii), rel=0.01)


def test_fieller_limits_solve_the_ratio_equation(built):
    """Fieller: the RII limits are the ρ where (N − ρD)² = z² Var(N − ρD), N = β0 + β1, D = β0,
    with the variances of the weighted-least-squares coefficients worked out with numpy."""
    q = quantiles(READING, "quintile")
    population = [p for _, p in q.values()]
    value, lower, upper = (np.array(c) for c in zip(*[rate_ci(e, p, 1000) for e, p in q.values()], strict=True))
    _, _, _, _, x, a, se = phe_sii(population, value, lower, upper)
    weights = (np.linalg.inv(x.T @ x) @ x.T) * np.sqrt(a)          # rows: β0, β1 in terms of v
    n_w, d_w = weights[0] + weights[1], weights[0]
    n, d = n_w @ value, d_w @ value
    [got] = stored(built, "test_violence_rate", READING, "quintile")
    for rho in got[4:6]:
        assert (n - rho * d) ** 2 == pytest.approx(Z ** 2 * np.sum((n_w - rho * d_w) ** 2 * se ** 2), rel=1e-6)


def test_an_area_lacking_a_quantile_has_no_row(built):
    # Slough has no LSOA in decile 10: no decile row (PHE drops the area), but quintile 5 (deciles
    # 9 and 10) has two LSOAs and the quintile row is there; the force area has every decile
    assert stored(built, "test_violence_share", SLOUGH, "decile") == []
    assert rows(built, """SELECT count(*) FROM marts.fct_indicator_imd_quantile
                          WHERE area_code = ? AND quantile_type = 'decile'""", [SLOUGH]) == [(0,)]
    assert len(stored(built, "test_violence_share", SLOUGH, "quintile")) == 1
    assert stored(built, "test_violence_share", PFA, "decile")[0][7] == 10
    # only the period types asked for (vars.inequality_period_types), never LSOA or MSOA
    assert rows(built, "SELECT DISTINCT period_type FROM marts.fct_indicator_inequality") == [("quarter",)]
    assert {t for (t,) in rows(built, "SELECT DISTINCT area_type FROM marts.fct_indicator_inequality")} == {
        "lad", "utla", "csp", "pfa"}


def test_fingertips_rule_withholds_a_quantile_below_10_and_its_row(built):
    # Slough's quintile 5 is 3 + 4 = 7 events: its count is public (police.uk), its value is not,
    # and the quintile row has no statistics
    [(n, v, suppressed, reason)] = rows(built, """
        SELECT numerator, value, is_suppressed, suppression_reason FROM marts.fct_indicator_imd_quantile
        WHERE indicator_id = 'test_violence_rate' AND area_code = ? AND area_type = 'lad'
          AND quantile_type = 'quintile' AND quantile = 5""", [SLOUGH])
    assert (n, v, suppressed) == (7, None, True) and "below 10" in reason
    [got] = stored(built, "test_violence_rate", SLOUGH, "quintile")
    assert got[0] is None and got[8] and got[9].startswith("not calculated: a quantile's value is withheld")
    # under no disclosure rule, the same quintile's share is calculated
    assert stored(built, "test_violence_share", SLOUGH, "quintile")[0][0] is not None


def test_nhs_rule_uses_counts_rounded_to_5_and_withholds_below_10(built):
    published = {(a, t, q): (n, v, lo, hi, s) for a, t, q, n, v, lo, hi, s in rows(built, """
        SELECT area_code, quantile_type, quantile, numerator, value, lower_ci_95, upper_ci_95, is_suppressed
        FROM marts.fct_indicator_imd_quantile WHERE indicator_id = 'test_violence_nhs' AND area_type IN ('lad', 'pfa')""")}
    for area in (READING, PFA):
        for quantile_type in ("decile", "quintile"):
            for q, (events, population) in quantiles(area, quantile_type).items():
                rounded = 5 * round(events / 5)
                n, v, lo, hi, suppressed = published[(area, quantile_type, q)]
                if rounded < 10:
                    assert (n, v, suppressed) == (None, None, True)
                else:
                    assert n == rounded and not suppressed
                    assert (v, lo, hi) == pytest.approx(rate_ci(rounded, population, 100000), rel=1e-9)
    # Slough's quintile 5 (7 events) is hidden, so its quintile row is withheld
    assert published[(SLOUGH, "quintile", 5)][0] is None
    [got] = stored(built, "test_violence_nhs", SLOUGH, "quintile")
    assert got[0] is None and got[8] and "hidden: a count from 0 to 7" in got[9]
    # the force area's quintiles: the SII of the rounded counts, not of the true ones
    q = quantiles(PFA, "quintile")
    population = [p for _, p in q.values()]
    rounded = [rate_ci(5 * round(e / 5), p, 100000) for e, p in q.values()]
    true = [rate_ci(e, p, 100000) for e, p in q.values()]
    sii_rounded = phe_sii(population, *(np.array(c) for c in zip(*rounded, strict=True)))[0]
    sii_true = phe_sii(population, *(np.array(c) for c in zip(*true, strict=True)))[0]
    [got] = stored(built, "test_violence_nhs", PFA, "quintile")
    assert got[0] == pytest.approx(sii_rounded, rel=1e-9) and got[0] != pytest.approx(sii_true, rel=1e-6)


def test_no_hidden_count_is_recovered_with_the_quantiles_published(built):
    found = attack(built.working_db, schema="marts")
    assert found["quantile_cells"] > 0 and found["inequality_leaks"] == []
    assert found["recovered"] == [] and found["inconsistent"] == 0


def test_a_redelivered_month_rebuilds_the_quantiles_as_a_full_rebuild_would(built, tmp_path):
    """March re-delivered with ten more crimes in Slough's decile 9 (its quintile 5 goes from 7 to
    17 events, so its value and the quintile row are no longer withheld): an incremental build
    (only the periods holding March; the NHS-rule indicator in full) gives the same rows as a
    build from scratch of the same deliveries."""
    from ingestion import pipeline
    from ingestion.settings import Settings
    from ingestion.transform import run_dbt

    tables = ["intermediate.int_indicator__imd_quantile_count", "intermediate.int_indicator__imd_quantile",
              "marts.fct_indicator_imd_quantile",
              "marts.fct_indicator_inequality"]
    march = [((code, "x"), crime_type, total // 3) for code, *_, violence, robbery in LSOAS
             for crime_type, total in ((VIOLENCE, violence), (ROBBERY, robbery)) if total // 3]
    march.append(((LSOAS[-1][0], "x"), VIOLENCE, 10))
    built_rows = {}
    for how in ("incremental", "full"):
        settings = Settings(warehouse_dir=tmp_path / how)
        settings.warehouse_dir.mkdir()
        shutil.copy(built.working_db, settings.working_db)
        pipeline.ingest_police_street(write_street(tmp_path / f"{how}-landing", "2025-03", march), settings=settings)
        pipeline.check_raw(settings)
        run_dbt(["build", "--vars", json.dumps(VARS)] + (["--full-refresh"] if how == "full" else []),
                settings=settings)
        with duckdb.connect(str(settings.working_db), read_only=True) as con:
            # floats to 9 significant figures (sums may add in another order)
            built_rows[how] = {t: [tuple(float(f"{v:.9g}") if isinstance(v, float) else v for v in r)
                                   for r in con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()]
                               for t in tables}
    for table in tables:
        assert built_rows["incremental"][table] == built_rows["full"][table], table
    [row] = [r for r in built_rows["incremental"]["marts.fct_indicator_inequality"]
             if r[:3] == ("test_violence_rate", SLOUGH, "lad") and r[6] == "quintile"]
    assert row[9] is not None                        # sii, withheld before March changed


# Reading with twelve LSOAs in decile 1, one crime each in the quarter (all in January), and one
# LSOA in each other decile; Slough as above
TWELVE_IN_DECILE_1 = [(f"E0109{2000 + i:04d}", READING, 1, 1500, 1, 0) for i in range(12)] + [
    (f"E0109{2100 + d:04d}", READING, d, 1500, 30, 0) for d in range(2, 11)] + [s for s in LSOAS if s[1] == SLOUGH]


@pytest.fixture(scope="module")
def twelve_ones_in_a_decile(tmp_path_factory):
    root = tmp_path_factory.mktemp("decile-ones")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = root / "landing"
        write_reference(landing, TWELVE_IN_DECILE_1)
        # the ones in January; every other LSOA's crimes a third in each month
        for m, month in enumerate(MONTHS):
            write_street(landing / "police", month, [
                ((code, "x"), VIOLENCE, violence // 3 + (violence % 3 if m == 0 else 0))
                for code, *_, violence, _ in TWELVE_IN_DECILE_1 if violence // 3 or m == 0])
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build", "--vars", json.dumps({"indicators": [{**NHS, "period_types": ["month", "quarter"]}],
                                                "inequality_period_types": ["quarter"],
                                                "nhs_small_numbers_hide_zeros": False})])
        yield get_settings()


def test_a_decile_of_hidden_ones_is_hidden_too(twelve_ones_in_a_decile, tmp_path):
    """Worked out by hand. Zeros are shown, so each of the twelve LSOAs' hidden quarters is at
    least 1, and Reading's decile 1 is their sum, 12, which the rule alone would show as 10 (8 to
    12): twelve counts of at least 1 adding up to at most 12 are each exactly 1. The secondary
    suppression has the decile's count as a cell, related to its LSOAs, so it hides it in every
    area that is Reading alone (the district, its upper tier and its partnership); the attack then
    recovers nothing. Shown as the rule alone would show it, the attack gives every LSOA back."""
    settings = twelve_ones_in_a_decile
    found = attack(settings.working_db, schema="marts")
    assert found["quantile_cells"] > 0 and found["recovered"] == [] and found["inconsistent"] == 0
    decile_1 = dict(rows(settings, """
        SELECT area_type, numerator FROM marts.fct_indicator_imd_quantile
        WHERE indicator_id = 'test_violence_nhs' AND area_code IN (?, 'E22000309') AND quantile_type = 'decile'
          AND quantile = 1""", [READING]))
    assert decile_1 == {"lad": None, "utla": None, "csp": None}
    # the other deciles are shown (30 each), and the force's decile 1 (12 + Slough's 41 = 53) as 55
    assert rows(settings, """SELECT count(*) FROM marts.fct_indicator_imd_quantile WHERE area_code = ? AND area_type = 'lad'
                             AND quantile_type = 'decile' AND numerator = 30""", [READING]) == [(9,)]
    assert rows(settings, """SELECT numerator FROM marts.fct_indicator_imd_quantile WHERE area_code = ?
                             AND quantile_type = 'decile' AND quantile = 1""", [PFA]) == [(55,)]

    exposed = tmp_path / "exposed.duckdb"
    with duckdb.connect(str(exposed)) as con:
        con.execute(f"ATTACH '{settings.working_db}' AS w (READ_ONLY)")
        for table in ["fct_indicator_value", "fct_indicator_trend", "dim_area", "dim_indicator",
                      "fct_indicator_imd_quantile", "fct_indicator_inequality"]:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM w.marts.{table}")
        shown = con.execute("""
            UPDATE fct_indicator_imd_quantile SET numerator = 10, is_suppressed = false, suppression_reason = null,
                                                  value = 10 / denominator * 100000
            WHERE area_code IN (?, 'E22000309') AND quantile_type = 'decile' AND quantile = 1""", [READING]).fetchone()[0]
    assert shown == 3
    recovered = attack(exposed)["recovered"]
    ones = {code for code, district, decile, *_ in TWELVE_IN_DECILE_1 if decile == 1 and district == READING}
    assert {c[2] for c in recovered if c[1] == "lsoa" and c[3] == "quarter"} == ones
    assert all(c[-1] == [1] for c in recovered if c[1] == "lsoa")
