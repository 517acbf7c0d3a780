"""The indicator methods in dbt_project/macros/indicator_methods.sql, evaluated by dbt itself
(`dbt show --inline`), against reference values computed independently here:

- exact Poisson limits (any confidence level): scipy's chi-squared quantiles, chi2(α/2; 2O)/2 and
  chi2(1−α/2; 2O+2)/2;
- z for any confidence level from 0.90 to 0.999, and the normal quantile: scipy's norm.ppf;
- Byar's limits: the published formula evaluated in plain Python (math), not SQL;
- Wilson score limits: scipy.stats.binomtest(...).proportion_ci(method="wilson");
- DSR and Dobson limits: the PHEindicatormethods phe_dsr formulas written out with numpy, the
  Byar limits on the total count from the formula above, and the ESP2013 weights typed in here.
Agreement is required to 6 significant figures (relative 5e-7)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest, chi2, norm

from ingestion.settings import DBT_PROJECT_DIR

SIX_SIGNIFICANT = 5e-7


def dbt(tmp_path, *args: str) -> str:
    env = {**os.environ, "VRU_WAREHOUSE_PATH": str(tmp_path / "methods.duckdb")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), *args, "--quiet",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def dbt_show(tmp_path, sql: str) -> list[dict]:
    """Evaluate SQL that uses the project's macros and seeds, as dbt compiles it."""
    dbt(tmp_path, "seed", "--select", "esp2013_age_band")
    return json.loads(dbt(tmp_path, "show", "--inline", sql, "--output", "json", "--limit", "1000"))["show"]


def byar(o: float, z: float) -> tuple[float, float]:
    lower = o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3
    upper = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * math.sqrt(o + 1))) ** 3
    return lower, upper


CRUDE_CASES = [(0, 1500), (3, 2000), (9, 800), (10, 1500), (12, 1500), (36, 7500), (250, 61000)]
WILSON_CASES = [(0, 50), (5, 100), (37, 120), (50, 50), (1, 3)]
CONFIDENCE = [0.95, 0.998]
# Byar's limits, including a lower limit that would fall below zero (1 event at 99.8% and 99.9%)
BYAR_CASES = [(1, 0.95), (1, 0.998), (1, 0.999), (2, 0.999), (10, 0.998), (480, 0.95)]
# any confidence level from 0.90 to 0.999, and the normal quantile across (0, 1) including both
# branches of AS241 (central |p − 0.5| ≤ 0.425; tails with r ≤ 5 and beyond)
Z_LEVELS = [0.90, 0.925, 0.95, 0.975, 0.99, 0.995, 0.998, 0.999]
POISSON_LEVELS = [0.90, 0.95, 0.99, 0.998, 0.999]
QUANTILE_POINTS = [1e-12, 1e-6, 0.001, 0.025, 0.2, 0.5, 0.6, 0.9, 0.975, 0.9995, 1 - 1e-9]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("methods")
    crude = " union all ".join(
        f"select {o} as o, {n} as n, {c} as c" for o, n in CRUDE_CASES for c in CONFIDENCE)
    sql_crude = f"""
        with cases as ({crude}),
        limits as ({{{{ poisson_exact_limits() }}}})
        select o, n, c,
          case when c = 0.95 then {{{{ crude_rate_limit('lower', 'o', 'n', 1000, 'l.lower_events') }}}}
               else {{{{ crude_rate_limit('lower', 'o', 'n', 1000, 'l.lower_events', 0.998) }}}} end as lower,
          case when c = 0.95 then {{{{ crude_rate_limit('upper', 'o', 'n', 1000, 'l.upper_events') }}}}
               else {{{{ crude_rate_limit('upper', 'o', 'n', 1000, 'l.upper_events', 0.998) }}}} end as upper
        from cases left join limits as l on l.events = o and l.confidence = c"""
    wilson = " union all ".join(f"select {o}::double as o, {n}::double as n" for o, n in WILSON_CASES)
    sql_wilson = f"""
        select o, n,
          {{{{ wilson_limit('lower', 'o', 'n', 100) }}}} as lower_95, {{{{ wilson_limit('upper', 'o', 'n', 100) }}}} as upper_95,
          {{{{ wilson_limit('lower', 'o', 'n', 100, 0.998) }}}} as lower_998,
          {{{{ wilson_limit('upper', 'o', 'n', 100, 0.998) }}}} as upper_998
        from ({wilson})"""
    bands = " union all ".join(
        f"select {i} as band, {o}::double as o, {n}::double as n"
        for i, (o, n) in enumerate(zip(DSR_EVENTS, DSR_POPULATION, strict=True), 1))
    sql_dsr = f"""
        with bands as ({bands}), esp as (select esp_band, standard_population from {{{{ ref('esp2013_age_band') }}}}),
        sums as (select {{{{ dsr_value('o', 'n', 'standard_population') }}}} as dsr,
                        {{{{ dsr_variance('o', 'n', 'standard_population') }}}} as variance, sum(o) as events
                 from bands join esp on esp.esp_band = bands.band)
        select dsr, {{{{ dobson_limit('lower', 'dsr', 'variance', 'events') }}}} as lower_95,
                    {{{{ dobson_limit('upper', 'dsr', 'variance', 'events') }}}} as upper_95,
                    {{{{ dobson_limit('lower', 'dsr', 'variance', 'events', 0.998) }}}} as lower_998,
                    {{{{ dobson_limit('upper', 'dsr', 'variance', 'events', 0.998) }}}} as upper_998
        from sums"""
    byar_levels = sorted({c for _, c in BYAR_CASES})
    byar_cases = " union all ".join(f"select {o}::double as o, {c} as c" for o, c in BYAR_CASES)
    sql_byar = f"""
        select o, c,
          case {" ".join(f"when c = {c} then {{{{ byar_lower('o', {c}) }}}}" for c in byar_levels)} end as lower,
          case {" ".join(f"when c = {c} then {{{{ byar_upper('o', {c}) }}}}" for c in byar_levels)} end as upper
        from ({byar_cases})"""
    # fewer than 10 events: no DSR and no limits, whatever the bands say
    sql_dsr_small = """
        select {{ dsr_rate('123.4', 'o') }} as dsr, {{ dobson_limit('lower', '123.4', '50.0', 'o') }} as lower_95,
               {{ dobson_limit('upper', '123.4', '50.0', 'o', 0.998) }} as upper_998, o
        from (values (0), (9), (10)) as t(o)"""
    polarity = """
        select p, {{ compare_by_ci('4.0', 'false', '5.0', '7.0', 'p') }} as above,
                  {{ compare_by_ci('8.0', 'false', '5.0', '7.0', 'p') }} as below,
                  {{ compare_by_ci('6.0', 'false', '5.0', '7.0', 'p') }} as inside
        from (values ('lower_is_better'), ('higher_is_better'), ('no_judgement')) as t(p)"""
    normal = " union all ".join(
        [f"select 'z' as what, {c} as at, {{{{ z_value({c}) }}}} as value" for c in Z_LEVELS]
        + [f"select 'quantile', {p}, {{{{ normal_quantile({p}) }}}}" for p in QUANTILE_POINTS])
    # one dbt process for every case (dbt start-up dominates)
    sql = " union all ".join([
        f"select 'crude' as kind, to_json(x) as row from ({sql_crude}) as x",
        f"select 'normal', to_json(x) from ({normal}) as x",
        f"select 'poisson', to_json(x) from ({{{{ poisson_exact_limits({POISSON_LEVELS}) }}}}) as x",
        f"select 'wilson', to_json(x) from ({sql_wilson}) as x",
        f"select 'dsr', to_json(x) from ({sql_dsr}) as x",
        f"select 'polarity', to_json(x) from ({polarity}) as x",
        f"select 'byar', to_json(x) from ({sql_byar}) as x",
        f"select 'dsr_small', to_json(x) from ({sql_dsr_small}) as x",
    ])
    out: dict[str, list[dict]] = {}
    for row in dbt_show(tmp, sql):
        out.setdefault(row["kind"], []).append(json.loads(row["row"]))
    return out


def test_z_for_any_confidence_level_and_the_normal_quantile(results):
    got = {(r["what"], r["at"]): r["value"] for r in results["normal"]}
    for c in Z_LEVELS:
        assert got[("z", c)] == pytest.approx(norm.ppf(1 - (1 - c) / 2), rel=1e-12), c
    for p in QUANTILE_POINTS:
        assert got[("quantile", p)] == pytest.approx(norm.ppf(p), rel=1e-12, abs=1e-15), p
    assert len(got) == len(Z_LEVELS) + len(QUANTILE_POINTS)


@pytest.mark.parametrize("level", ["0.85", "0.9995"])
def test_a_confidence_level_outside_090_to_0999_stops_the_build(tmp_path, level):
    env = {**os.environ, "VRU_WAREHOUSE_PATH": str(tmp_path / "methods.duckdb")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "show", "--quiet", "--inline", f"select {{{{ z_value({level}) }}}}",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "is not a number from 0.90 to 0.999" in done.stdout + done.stderr


def test_exact_poisson_limits_at_any_confidence_level(results):
    # scipy's chi-squared quantiles: chi2(α/2; 2O)/2 and chi2(1 − α/2; 2O + 2)/2
    rows = results["poisson"]
    assert sorted((r["events"], r["confidence"]) for r in rows) == sorted(
        (o, c) for o in range(10) for c in POISSON_LEVELS)
    for row in rows:
        o, alpha = row["events"], 1 - row["confidence"]
        lower = 0.0 if o == 0 else chi2.ppf(alpha / 2, 2 * o) / 2
        assert row["lower_events"] == pytest.approx(lower, rel=1e-12, abs=0), row
        assert row["upper_events"] == pytest.approx(chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2, rel=1e-12), row


def test_crude_rate_limits_exact_below_ten_byar_from_ten(results):
    for row in results["crude"]:
        o, n, c = row["o"], row["n"], row["c"]
        alpha, z = 1 - c, norm.ppf(1 - (1 - c) / 2)
        if o < 10:
            lower = 0.0 if o == 0 else chi2.ppf(alpha / 2, 2 * o) / 2
            upper = chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2
        else:
            lower, upper = byar(o, z)
        assert row["lower"] == pytest.approx(lower / n * 1000, rel=SIX_SIGNIFICANT, abs=1e-12), row
        assert row["upper"] == pytest.approx(upper / n * 1000, rel=SIX_SIGNIFICANT), row
    assert len(results["crude"]) == len(CRUDE_CASES) * 2


def test_wilson_limits_for_proportions(results):
    for row in results["wilson"]:
        o, n = int(row["o"]), int(row["n"])
        for level, suffix in [(0.95, "95"), (0.998, "998")]:
            ci = binomtest(o, n).proportion_ci(confidence_level=level, method="wilson")
            assert row[f"lower_{suffix}"] == pytest.approx(ci.low * 100, rel=SIX_SIGNIFICANT, abs=1e-9), (row, level)
            assert row[f"upper_{suffix}"] == pytest.approx(ci.high * 100, rel=SIX_SIGNIFICANT), (row, level)


def test_wilson_limits_are_exact_at_zero_and_at_n(results):
    # PHEindicatormethods: 0 events give a lower limit of exactly 0, O = n an upper limit of exactly 1
    got = {(int(r["o"]), int(r["n"])): r for r in results["wilson"]}
    for suffix in ["95", "998"]:
        assert got[(0, 50)][f"lower_{suffix}"] == 0.0
        assert got[(50, 50)][f"upper_{suffix}"] == 100.0


def test_byar_lower_limit_below_zero_is_withheld(results):
    rows = results["byar"]
    assert len(rows) == len(BYAR_CASES)
    for row in rows:
        o, c = row["o"], row["c"]
        z = norm.ppf(1 - (1 - c) / 2)
        base = 1 - 1 / (9 * o) - z / (3 * math.sqrt(o))
        lower, upper = byar(o, z)
        if base < 0:
            assert row["lower"] is None, row            # PHEindicatormethods byars_lower: NA, not 0
        else:
            assert row["lower"] == pytest.approx(lower, rel=SIX_SIGNIFICANT), row
        assert row["upper"] == pytest.approx(upper, rel=SIX_SIGNIFICANT), row
    assert sum(r["lower"] is None for r in rows) == 2   # 1 event at 99.8% and at 99.9%


def test_no_dsr_or_dobson_limits_below_ten_events(results):
    got = {r["o"]: (r["dsr"], r["lower_95"], r["upper_998"]) for r in results["dsr_small"]}
    assert got[0] == got[9] == (None, None, None)
    assert got[10][0] == 123.4 and got[10][1] < 123.4 < got[10][2]


ESP2013 = np.array([5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000, 5500,
                    5000, 4000, 2500, 1500, 1000], dtype=float)
DSR_EVENTS = [1, 0, 3, 9, 14, 11, 8, 7, 6, 5, 4, 4, 3, 2, 2, 1, 1, 0, 1]
DSR_POPULATION = [5800, 6100, 6000, 6300, 7000, 7400, 7100, 6800, 6600, 6900, 7200, 6700, 6000, 5200,
                  4700, 3500, 2400, 1400, 700]


def test_dsr_and_dobson_limits(results):
    (row,) = results["dsr"]
    o, n = np.array(DSR_EVENTS, float), np.array(DSR_POPULATION, float)
    dsr = (ESP2013 * o / n).sum() / ESP2013.sum() * 100_000
    var = (ESP2013 ** 2 * o / n ** 2).sum() / ESP2013.sum() ** 2
    total = o.sum()
    assert row["dsr"] == pytest.approx(dsr, rel=SIX_SIGNIFICANT)
    for level, suffix in [(0.95, "95"), (0.998, "998")]:
        low, high = byar(total, norm.ppf(1 - (1 - level) / 2))
        assert row[f"lower_{suffix}"] == pytest.approx(dsr + math.sqrt(var / total) * (low - total) * 100_000,
                                                       rel=SIX_SIGNIFICANT)
        assert row[f"upper_{suffix}"] == pytest.approx(dsr + math.sqrt(var / total) * (high - total) * 100_000,
                                                       rel=SIX_SIGNIFICANT)


def test_comparison_flips_when_polarity_flips(results):
    # the area's interval 5–7 lies above a comparator of 4, below one of 8, and spans 6
    got = {r["p"]: (r["above"], r["below"], r["inside"]) for r in results["polarity"]}
    assert got == {"lower_is_better": ("worse", "better", "similar"),
                   "higher_is_better": ("better", "worse", "similar"),
                   "no_judgement": ("higher", "lower", "similar")}
