"""Plotly figures of the report (Fingertips colours) and the funnel plot's control limits."""

from __future__ import annotations

import math

import plotly.graph_objects as go

# OHID Fingertips' comparison colours
COLOURS = {"better": "#92D050", "similar": "#FFC000", "worse": "#C00000", "higher": "#BED2FF",
           "lower": "#5555E6", "not compared": "#C9C9C9"}
Z = {"95%": 1.959963984540054, "99.8%": 3.090232306167813}
CONFIG = {"displaylogo": False, "responsive": True}


def colour(comparison: str | None) -> str:
    return COLOURS.get(comparison or "not compared", COLOURS["not compared"])


def to_div(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 60}, font={"size": 12})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)


def spine(rows: list[dict]) -> go.Figure:
    """Each indicator's value as a percentage of its comparator's, with the 95% CI, coloured by comparison."""
    fig = go.Figure()
    ys, xs, lo, hi, cols, text = [], [], [], [], [], []
    for r in rows:
        comp = r.get("comparator_value")
        if r.get("value") is None or not comp:
            continue
        ys.append(r["indicator_name"])
        xs.append(100 * r["value"] / comp)
        lo.append(100 * (r["value"] - (r["lower_ci_95"] if r["lower_ci_95"] is not None else r["value"])) / comp)
        hi.append(100 * ((r["upper_ci_95"] if r["upper_ci_95"] is not None else r["value"]) - r["value"]) / comp)
        cols.append(colour(r["comparison"]))
        text.append(f"{r['value']:.3g} vs {comp:.3g} ({r['comparison']})")
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", marker={"size": 16, "color": cols, "line": {"width": 1}},
                             error_x={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
                             text=text, hoverinfo="text+y", name="area"))
    fig.add_vline(x=100, line={"color": "black", "width": 2})
    fig.update_layout(title="Value as % of the comparator's (line at 100%), with 95% confidence interval",
                      xaxis_title="% of comparator value", height=140 + 45 * max(len(ys), 1), showlegend=False,
                      yaxis={"automargin": True, "autorange": "reversed"})
    return fig


def bars(rows: list[dict], comparator: dict | None, unit: str) -> go.Figure:
    shown = [r for r in rows if r["value"] is not None]
    fig = go.Figure(go.Bar(
        x=[r["area_name"] for r in shown], y=[r["value"] for r in shown],
        marker={"color": [colour(r["comparison"]) for r in shown], "line": {"color": "#333", "width": 1}},
        error_y={"type": "data", "symmetric": False,
                 "array": [(r["upper_ci_95"] - r["value"]) if r["upper_ci_95"] is not None else 0 for r in shown],
                 "arrayminus": [(r["value"] - r["lower_ci_95"]) if r["lower_ci_95"] is not None else 0 for r in shown]},
        name="value"))
    if comparator and comparator.get("value") is not None:
        fig.add_hline(y=comparator["value"], line={"color": "black", "dash": "dash"},
                      annotation_text=f"{comparator['area_name']}: {comparator['value']:.3g}")
    fig.update_layout(title="Areas ordered by value, with 95% confidence intervals", yaxis_title=unit, height=460,
                      xaxis={"automargin": True})
    return fig


def byar_count_limits(expected: float, z: float) -> tuple[float, float]:
    """Control limits of an observed count whose expectation is `expected` (Byar's approximation to the
    exact Poisson limits, as the PHE funnel-plot tool uses)."""
    lower = expected * (1 - 1 / (9 * expected) - z / (3 * math.sqrt(expected))) ** 3 if expected > 0 else 0.0
    e1 = expected + 1
    upper = e1 * (1 - 1 / (9 * e1) + z / (3 * math.sqrt(e1))) ** 3
    return max(lower, 0.0), upper


def funnel_limits(method: str, target: float, multiplier: float, denominators: list[float]) -> dict[str, list]:
    """Funnel control limits around `target` (the comparator's value) at each denominator."""
    out: dict[str, list] = {f"{side} {level}": [] for level in Z for side in ("lower", "upper")}
    for n in denominators:
        for level, z in Z.items():
            if method == "crude_rate":
                lo, hi = byar_count_limits(target * n / multiplier, z)
                lo, hi = lo / n * multiplier, hi / n * multiplier
            else:   # proportion: normal approximation to the binomial
                p = target / multiplier
                half = z * math.sqrt(max(p * (1 - p), 0) / n)
                lo, hi = max(p - half, 0) * multiplier, min(p + half, 1) * multiplier
            out[f"lower {level}"].append(lo)
            out[f"upper {level}"].append(hi)
    return out


def funnel(rows: list[dict], target: float, method: str, multiplier: float, comparator_name: str, unit: str) -> go.Figure:
    points = [r for r in rows if r["value"] is not None and r["denominator"]]
    top = max([r["denominator"] for r in points] + [1.0]) * 1.1
    low = max(min([r["denominator"] for r in points] + [top]) * 0.5, 1.0)
    grid = [low + (top - low) * i / 199 for i in range(200)]
    limits = funnel_limits(method, target, multiplier, grid)
    fig = go.Figure()
    for name, values in limits.items():
        fig.add_trace(go.Scatter(x=grid, y=values, mode="lines", name=f"{name} limit",
                                 line={"color": "#555" if "99.8" in name else "#999",
                                       "dash": "solid" if "99.8" in name else "dot"}))
    fig.add_hline(y=target, line={"color": "black"}, annotation_text=f"{comparator_name}: {target:.3g}")
    fig.add_trace(go.Scatter(x=[r["denominator"] for r in points], y=[r["value"] for r in points], mode="markers",
                             text=[r["area_name"] for r in points], name="areas",
                             marker={"size": 11, "color": [colour(r["comparison"]) for r in points],
                                     "line": {"color": "#333", "width": 1}}))
    how = "Byar's approximation to exact Poisson limits on the expected count" if method == "crude_rate" \
        else "normal approximation to the binomial"
    fig.update_layout(title=f"Funnel plot: 95% and 99.8% control limits around {comparator_name} ({how})",
                      xaxis_title="Denominator (population)", yaxis_title=unit, height=460)
    return fig


def trend_chart(rows: list[dict], unit: str) -> go.Figure:
    fig = go.Figure()
    band = [r for r in rows if r["lower_ci_95"] is not None and r["upper_ci_95"] is not None]
    if band:
        fig.add_trace(go.Scatter(x=[r["period_label"] for r in band] + [r["period_label"] for r in reversed(band)],
                                 y=[r["upper_ci_95"] for r in band] + [r["lower_ci_95"] for r in reversed(band)],
                                 fill="toself", fillcolor="rgba(31,119,180,0.2)", line={"color": "rgba(0,0,0,0)"},
                                 name="95% confidence interval", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[r["period_label"] for r in rows], y=[r["value"] for r in rows], mode="lines+markers",
                             marker={"size": 9, "color": [colour(r["comparison"]) for r in rows],
                                     "line": {"color": "#333", "width": 1}},
                             line={"color": "#1f77b4"}, name="value"))
    fig.update_layout(title="Trend, with 95% confidence interval", yaxis_title=unit, height=400,
                      xaxis={"type": "category"})
    return fig


def multi_agency_scatter(rows: list[dict]) -> go.Figure:
    both = [r for r in rows if r["police_violence_rate"] is not None and r["ae_assault_residence_rate"] is not None]
    fig = go.Figure(go.Scatter(x=[r["police_violence_rate"] for r in both], y=[r["ae_assault_residence_rate"] for r in both],
                               mode="markers", text=[r["lsoa_name"] for r in both], marker={"size": 10, "color": "#1f77b4"}))
    fig.update_layout(title=f"LSOAs with both rates published ({len(both)}): police violence against A&E assault "
                            "attendances (by residence)",
                      xaxis_title="Police violence rate", yaxis_title="A&E assault rate (residence)", height=420)
    return fig
