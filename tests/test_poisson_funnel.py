"""The exact Poisson funnel lines (ingestion/poisson_funnel.py) against PHEindicatormethods' own
construction: its control-line table puts whole counts O at the expected counts χ²⁻¹(1−α, 2O+2)/2
(lower line) and χ²⁻¹(α, 2O)/2 (upper line), scipy's chi-squared quantile here. The solver works
from the incomplete gamma function instead, so these are independent values."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import chi2

from ingestion.poisson_funnel import funnel_count

LEVELS = [0.90, 0.95, 0.998, 0.999]


@pytest.mark.parametrize("level", LEVELS)
def test_phe_whole_count_points_lie_on_the_lines(level):
    alpha = (1 - level) / 2
    counts = np.arange(1, 301, dtype=float)
    lower_x = chi2.ppf(1 - alpha, 2 * counts + 2) / 2  # PHE: poisson_funnel(O, α, "high")
    upper_x = chi2.ppf(alpha, 2 * counts) / 2  # PHE: poisson_funnel(O, α, "low")
    assert funnel_count(lower_x, level, upper=False) == pytest.approx(counts, rel=1e-9)
    assert funnel_count(upper_x, level, upper=True) == pytest.approx(counts, rel=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_between_whole_counts_and_far_out(level):
    # expected counts from a thousandth of an event to a million, against brentq on the quantile
    alpha = (1 - level) / 2
    lam = np.geomspace(1e-3, 1e6, 60)
    lower = [0.0 if x <= -math.log(alpha) else
             brentq(lambda o, x=x: chi2.ppf(1 - alpha, 2 * o + 2) / 2 - x, 0, x, xtol=1e-13, rtol=1e-14) for x in lam]
    upper = [brentq(lambda o, x=x: chi2.ppf(alpha, 2 * o) / 2 - x, 1e-12, 10 * x + 50, xtol=1e-13, rtol=1e-14)
             for x in lam]
    assert funnel_count(lam, level, upper=False) == pytest.approx(lower, rel=1e-9, abs=1e-10)
    assert funnel_count(lam, level, upper=True) == pytest.approx(upper, rel=1e-9, abs=1e-10)


def test_edges():
    # the lower line is 0 up to the exact upper limit on 0 events (−ln α) and rises from there
    assert funnel_count(np.array([0.0, -math.log(0.025)]), 0.95, upper=False) == pytest.approx([0, 0], abs=1e-12)
    assert funnel_count(np.array([3.7]), 0.95, upper=False)[0] > 0
    assert funnel_count(np.array([0.0]), 0.95, upper=True).tolist() == [0.0]
    assert np.isnan(funnel_count(np.array([np.nan, -1.0]), 0.95, upper=True)).all()


def test_registered_for_sql_with_nulls():
    # as dbt's connection has it (the profile's plugin): a vectorised function over a chunk, NULL in, NULL out
    from ingestion.dbt_functions import Plugin

    con = duckdb.connect()
    Plugin(name="dbt_functions", plugin_config={}).configure_connection(con)
    rows = con.execute("""SELECT l.lower, l.upper FROM (SELECT poisson_funnel_lines(x, 0.95) AS l FROM (VALUES
                          (10.0), (NULL), (0.5)) AS t (x))""").fetchall()
    assert rows[1] == (None, None) and rows[2][0] == 0.0
    assert rows[0][0] == pytest.approx(brentq(lambda o: chi2.ppf(0.975, 2 * o + 2) / 2 - 10, 0, 10, xtol=1e-13), rel=1e-9)
    assert rows[0][1] == pytest.approx(brentq(lambda o: chi2.ppf(0.025, 2 * o) / 2 - 10, 1, 60, xtol=1e-13), rel=1e-9)
    # thousands of rows arrive in chunks of DuckDB's vector size
    (n,) = con.execute("SELECT count(poisson_funnel_lines(i + 0.5, 0.998).upper) FROM range(5000) AS t (i)").fetchone()
    assert n == 5000
