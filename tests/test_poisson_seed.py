"""The exact Poisson limits seed against an independent source (scipy's chi-squared quantiles)."""

import csv

import pytest
from scipy.stats import chi2

from ingestion.settings import DBT_PROJECT_DIR


def test_seed_matches_chi_squared_quantiles():
    with open(DBT_PROJECT_DIR / "seeds" / "poisson_exact_limits.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20
    for row in rows:
        events, confidence = int(row["events"]), float(row["confidence"])
        alpha = 1 - confidence
        lower = 0.0 if events == 0 else chi2.ppf(alpha / 2, 2 * events) / 2
        upper = chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2
        assert float(row["lower_events"]) == pytest.approx(lower, rel=1e-12)
        assert float(row["upper_events"]) == pytest.approx(upper, rel=1e-12)
