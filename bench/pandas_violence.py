"""The baseline: a straightforward pandas implementation of the violence indicator, as an analyst
would write it without the platform. Same definition as `violence_offences_rate`: violence and
sexual offences by the LSOA of the map point, identical repeated records counted once, every
LSOA of a delivering force counted (zero when it had none), per 1,000 residents (population
averaged over the period's months), Byar's 95% CI from 10 events, exact Poisson below, no rate
below 10 events; for LSOA, MSOA, LAD, CSP and PFA, by month, quarter, calendar year, financial
year and rolling 12 months (complete periods only). Records with no location count at the force
area of the force whose file they came from (as forces publish their totals), never below."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import chi2

Z = 1.959963984540054
VIOLENCE = "Violence and sexual offences"
FORCE_SEED = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "police_force.csv"


def _ci(observed: np.ndarray, population: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    o = observed.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        byar_low = o * (1 - 1 / (9 * o) - Z / (3 * np.sqrt(o))) ** 3
        byar_high = (o + 1) * (1 - 1 / (9 * (o + 1)) + Z / (3 * np.sqrt(o + 1))) ** 3
    exact_low = np.where(o > 0, chi2.ppf(0.025, 2 * o) / 2, 0.0)
    exact_high = chi2.ppf(0.975, 2 * o + 2) / 2
    low = np.where(o >= 10, byar_low, exact_low)
    high = np.where(o >= 10, byar_high, exact_high)
    return low / population * 1000, high / population * 1000


def _periods(months: list[str]) -> pd.DataFrame:
    """Each month → every complete period containing it."""
    rows = []
    have = set(months)
    for month in months:
        start = pd.Timestamp(month + "-01")
        y, m = start.year, start.month
        q = pd.Timestamp(year=y, month=3 * ((m - 1) // 3) + 1, day=1)
        fy = pd.Timestamp(year=y if m >= 4 else y - 1, month=4, day=1)
        candidates = [("month", start, 1), ("quarter", q, 3), ("calendar_year", pd.Timestamp(year=y, month=1, day=1), 12),
                      ("financial_year", fy, 12)]
        candidates += [("rolling_12_months", start - pd.DateOffset(months=k), 12) for k in range(12)]
        for period_type, period_start, length in candidates:
            span = {(period_start + pd.DateOffset(months=i)).strftime("%Y-%m") for i in range(length)}
            if span <= have:
                rows.append((month, period_type, period_start))
    return pd.DataFrame(rows, columns=["Month", "period_type", "period_start"])


def violence_indicator(street_files: list[Path], reference_dir: Path) -> pd.DataFrame:
    ons = Path(reference_dir) / "ons"
    lsoa_lad = pd.read_csv(ons / "LSOA21_WD24_LAD24_EW_LU.csv")
    lad_csp_pfa = pd.read_csv(ons / "LAD24_CSP24_PFA24_EW_LU.csv")
    lsoa_msoa = pd.read_csv(ons / "LSOA21_MSOA21_EW_LU.csv")
    population = pd.read_csv(next((Path(reference_dir) / "population").glob("*.csv")))
    population = population[["LSOA 2021 Code", "Total"]].rename(columns={"LSOA 2021 Code": "lsoa", "Total": "population"})
    areas = (lsoa_lad.rename(columns={"LSOA21CD": "lsoa", "LAD24CD": "lad"})[["lsoa", "lad"]]
             .merge(lad_csp_pfa.rename(columns={"LAD24CD": "lad", "CSP24CD": "csp", "PFA24CD": "pfa"})[["lad", "csp", "pfa"]])
             .merge(lsoa_msoa.rename(columns={"LSOA21CD": "lsoa", "MSOA21CD": "msoa"})[["lsoa", "msoa"]])
             .merge(population))

    # the force is in each file's name: YYYY-MM-<force>-street.csv
    crimes = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False, na_values=[""])
                        .assign(force=Path(f).name[8:-len("-street.csv")]) for f in street_files], ignore_index=True)
    with_id = crimes[crimes["Crime ID"].notna()].drop_duplicates()
    crimes = pd.concat([with_id, crimes[crimes["Crime ID"].isna()]], ignore_index=True)
    placed = crimes[crimes["LSOA code"].notna()]
    violence = placed[placed["Crime type"] == VIOLENCE]
    counts = violence.groupby(["LSOA code", "Month"]).size().rename("numerator").reset_index()
    counts = counts.rename(columns={"LSOA code": "lsoa"})

    # every LSOA of every force-month delivered counts, zero where it had no violence
    delivered = (placed[["LSOA code", "Month"]].drop_duplicates().rename(columns={"LSOA code": "lsoa"})
                 .merge(areas[["lsoa", "pfa"]])[["pfa", "Month"]].drop_duplicates())
    grid = areas.merge(delivered, on="pfa")
    grid = grid.merge(counts, on=["lsoa", "Month"], how="left").fillna({"numerator": 0})

    forces = pd.read_csv(FORCE_SEED)[["force_id", "pfa_code"]].rename(columns={"force_id": "force", "pfa_code": "pfa"})
    unlocated = (crimes[crimes["LSOA code"].isna() & (crimes["Crime type"] == VIOLENCE)].merge(forces)
                 .groupby(["pfa", "Month"]).size().rename("unlocated").reset_index())

    periods = _periods(sorted(grid["Month"].unique()))
    per_period = grid.merge(periods, on="Month")
    out = []
    for level in ["lsoa", "msoa", "lad", "csp", "pfa"]:
        by_month = per_period.groupby([level, "period_type", "period_start", "Month"], as_index=False).agg(
            numerator=("numerator", "sum"), population=("population", "sum"))
        if level == "pfa":
            by_month = by_month.merge(unlocated, on=["pfa", "Month"], how="left").fillna({"unlocated": 0})
            by_month["numerator"] += by_month.pop("unlocated")
        agg = by_month.groupby([level, "period_type", "period_start"], as_index=False).agg(
            numerator=("numerator", "sum"), denominator=("population", "mean"))
        agg["value"] = agg["numerator"] / agg["denominator"] * 1000
        agg["lower_ci_95"], agg["upper_ci_95"] = _ci(agg["numerator"].to_numpy(), agg["denominator"].to_numpy())
        hidden = agg["numerator"] < 10
        agg.loc[hidden, ["value", "lower_ci_95", "upper_ci_95"]] = np.nan
        out.append(agg.rename(columns={level: "area_code"}).assign(area_type=level))
    return pd.concat(out, ignore_index=True)
