"""What the published warehouse says, for analysts, in the console (`vru demo` ends with it).

Plain words, no column names: every comparison says it is by 95% confidence interval, every
rounded count says it is rounded and why, and a withheld value says who withheld it. Reads only
the published file, like any analyst would.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

# how each published comparison reads for an indicator of each polarity (dim_indicator.polarity)
_SAID = {
    "lower_is_better": {"worse": "higher (worse)", "better": "lower (better)"},
    "higher_is_better": {"worse": "lower (worse)", "better": "higher (better)"},
}
COMPARISON_NOTE = ("Areas are compared with the force by 95% confidence interval: an area is higher or lower "
                   "than its comparator only when its whole interval lies above or below the comparator's rate; "
                   "otherwise it is similar.")
ROUNDING_NOTE = ("Knife-crime and hospital counts follow the NHS small-numbers rule: counts of 0–7 are hidden, the "
                 "rest are rounded to the nearest 5, and rates and intervals are worked out from the rounded count. "
                 "Police rates for areas with fewer than 10 offences are not shown (the Fingertips rule).")


def said(comparison: str | None, polarity: str | None) -> str:
    """A comparison as an analyst reads it: which way, and whether that is better or worse."""
    if comparison in (None, "not compared"):
        return "—"
    return _SAID.get(polarity or "", {}).get(comparison, comparison)


def count_said(count: float | None, disclosure_rule: str) -> str:
    if count is None:
        return "hidden"
    rounded = " (rounded to the nearest 5)" if disclosure_rule == "nhs_small_numbers" else ""
    return f"{count:,.0f} events{rounded}"


def print_summary(published: Path, console: Console) -> None:
    """The force's districts for violence over the latest financial year beside the year before,
    then the force's headline for knife crime, hospital assaults and school exclusions."""
    from ingestion.warehouse import reader

    with reader(published) as con:
        _district_table(con, console)
        console.print(COMPARISON_NOTE, soft_wrap=True)
        console.print()
        for indicator_id in ("knife_serious_violence_rate", "knife_serious_violence_u25_rate", "ae_assault_rate"):
            _force_line(con, console, indicator_id)
        _exclusions_lines(con, console)
        console.print(ROUNDING_NOTE, soft_wrap=True)


def _district_table(con, console: Console) -> None:
    rows = con.execute("""
        WITH years AS (
            SELECT DISTINCT period_start FROM fct_indicator_value
            WHERE indicator_id = 'violence_offences_rate' AND period_type = 'financial_year'
            ORDER BY period_start DESC LIMIT 2)
        SELECT a.area_name, f.area_type, p.period_label, f.numerator, f.denominator, f.value, f.lower_ci_95,
               f.upper_ci_95, f.comparison, i.polarity,
               lag(f.value) OVER (PARTITION BY f.area_code, f.area_type ORDER BY f.period_start) AS year_before,
               lag(p.period_label) OVER (PARTITION BY f.area_code, f.area_type ORDER BY f.period_start) AS label_before
        FROM fct_indicator_value AS f
        JOIN years USING (period_start)
        JOIN dim_area AS a USING (area_code, area_type)
        JOIN dim_period AS p USING (period_type, period_start)
        JOIN dim_indicator AS i USING (indicator_id)
        WHERE f.indicator_id = 'violence_offences_rate' AND f.area_type IN ('lad', 'pfa')
          AND f.period_type = 'financial_year'
        QUALIFY f.period_start = max(f.period_start) OVER ()
        ORDER BY f.area_type = 'pfa', a.area_name""").fetchall()
    if not rows:
        return
    force = next((r[0] for r in rows if r[1] == "pfa"), "the force")
    before = next((r[11] for r in rows if r[11]), None)
    table = Table(title=f"Police-recorded violence and sexual offences per 1,000 residents, "
                        f"financial year {rows[0][2]}", title_justify="left")
    for name, justify in [("Area", "left"), ("Offences", "right"), ("Residents", "right"), ("Rate", "right"),
                          ("95% CI", "right"), (f"Rate {before}" if before else "Year before", "right"),
                          (f"vs {force}", "left")]:
        table.add_column(name, justify=justify, no_wrap=True)
    for name, _, _, count, residents, value, low, high, comparison, polarity, year_before, _ in rows:
        shown = value is not None
        table.add_row(name, f"{count:,.0f}", f"{residents:,.0f}", f"{value:.2f}" if shown else "not shown",
                      f"{low:.2f}–{high:.2f}" if shown else "", "" if year_before is None else f"{year_before:.2f}",
                      said(comparison, polarity) if name != force else "comparator")
    console.print(table)


def _force_line(con, console: Console, indicator_id: str) -> None:
    row = con.execute("""
        SELECT i.indicator_name, i.disclosure_rule, a.area_name, p.period_label, f.numerator, f.value,
               f.lower_ci_95, f.upper_ci_95, f.value_note
        FROM fct_indicator_value AS f
        JOIN dim_indicator AS i USING (indicator_id)
        JOIN dim_area AS a USING (area_code, area_type)
        JOIN dim_period AS p USING (period_type, period_start)
        WHERE f.indicator_id = ? AND f.area_type = 'pfa' AND f.period_type = 'financial_year'
        ORDER BY f.period_start DESC LIMIT 1""", [indicator_id]).fetchone()
    if row is None:
        return
    name, rule, area, period, count, value, low, high, note = row
    if value is None:
        console.print(f"{name}, {area}, {period}: not shown ({note or 'a small or hidden count'})", soft_wrap=True)
        return
    console.print(f"{name}, {area}, financial year {period}: {value:.1f} (95% CI {low:.1f}–{high:.1f}), from "
                  f"{count_said(count, rule)}", soft_wrap=True)


def _exclusions_lines(con, console: Console) -> None:
    """The force's school exclusions in the latest academic year beside its region and England,
    as DfE publishes them (the region and England rows are the release's own)."""
    rows = con.execute("""
        SELECT f.indicator_id, p.period_label, f.area_type, coalesce(a.area_name, f.area_code), f.value,
               f.comparison, i.polarity
        FROM fct_indicator_value AS f
        JOIN dim_period AS p USING (period_type, period_start)
        JOIN dim_indicator AS i USING (indicator_id)
        LEFT JOIN dim_area AS a USING (area_code, area_type)
        WHERE f.indicator_id IN ('dfe_permanent_exclusion_rate', 'dfe_suspension_rate')
          AND f.area_type IN ('pfa', 'region', 'country') AND f.value IS NOT NULL
        QUALIFY f.period_start = max(f.period_start) OVER (PARTITION BY f.indicator_id)
        ORDER BY f.indicator_id, f.area_type""").fetchall()
    values = {(indicator, area_type): (period, name, value, comparison, polarity)
              for indicator, period, area_type, name, value, comparison, polarity in rows}
    for indicator, what, per in (("dfe_permanent_exclusion_rate", "permanent exclusions", "10,000"),
                                 ("dfe_suspension_rate", "suspensions", "100")):
        force, region, england = (values.get((indicator, t)) for t in ("pfa", "region", "country"))
        if force is None:
            continue
        others = "; ".join(f"{v[1]} {v[2]:.1f}" for v in (region, england) if v)
        compared = "similar to" if force[3] == "similar" else said(force[3], force[4]) + " than"
        console.print(f"School {what}, {force[1]}, {force[0]}: {force[2]:.1f} per {per} pupils, {compared} "
                      f"its region by 95% confidence interval ({others}; DfE's own figures)", soft_wrap=True)
