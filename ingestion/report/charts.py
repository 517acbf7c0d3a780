"""Plotly figures of the report (Fingertips colours) and the funnel plot's control limits."""

from __future__ import annotations

import json
import math

# OHID Fingertips' comparison colours
COLOURS = {"better": "#92D050", "similar": "#FFC000", "worse": "#C00000", "higher": "#BED2FF",
           "lower": "#5555E6", "not compared": "#C9C9C9"}
CONFIG = {"displaylogo": False, "responsive": True}


def colour(comparison: str | None) -> str:
    return COLOURS.get(comparison or "not compared", COLOURS["not compared"])


def _hline(y: float, text: str, dash: str = "dash") -> tuple[dict, dict]:
    return ({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": y, "y1": y,
             "line": {"color": "black", "dash": dash}},
            {"xref": "paper", "x": 1, "yref": "y", "y": y, "text": text, "showarrow": False,
             "xanchor": "right", "yanchor": "bottom"})


def spine(rows: list[dict], div_id: str) -> str:
    """Each indicator's value as a percentage of its comparator's, with the 95% CI, coloured by comparison."""
    ys, xs, lo, hi, cols, text = [], [], [], [], [], []
    for r in rows:
        comp = r.get("comparator_value")
        if r.get("value") is None or not comp:
            continue
        ys.append(r["indicator_name"])
        xs.append(_r(100 * r["value"] / comp))
        lo.append(_r(100 * (r["value"] - (r["lower_ci_95"] if r["lower_ci_95"] is not None else r["value"])) / comp))
        hi.append(_r(100 * ((r["upper_ci_95"] if r["upper_ci_95"] is not None else r["value"]) - r["value"]) / comp))
        cols.append(colour(r["comparison"]))
        text.append(f"{r['value']:.3g} vs {comp:.3g} ({r['comparison']})")
    data = [{"type": "scatter", "x": xs, "y": ys, "mode": "markers", "name": "area", "text": text,
             "hoverinfo": "text+y", "marker": {"size": 16, "color": cols, "line": {"width": 1}},
             "error_x": {"type": "data", "symmetric": False, "array": hi, "arrayminus": lo}}]
    layout = {"title": {"text": "Value as % of the comparator's (line at 100%), with 95% confidence interval"},
              "xaxis": {"title": {"text": "% of comparator value"}, "gridcolor": "#eee"},
              "yaxis": {"automargin": True, "autorange": "reversed", "gridcolor": "#eee"},
              "shapes": [{"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": 100, "x1": 100,
                          "line": {"color": "black", "width": 2}}],
              "margin": {"l": 60, "r": 20, "t": 50, "b": 60}}
    return raw_div(data, layout, div_id, 140 + 45 * max(len(ys), 1))


def bars(rows: list[dict], comparator: dict | None, unit: str, div_id: str) -> str:
    shown = [r for r in rows if r["value"] is not None]
    data = [{"type": "bar", "name": "value", "x": [r["area_name"] for r in shown], "y": [_r(r["value"]) for r in shown],
             "marker": {"color": [colour(r["comparison"]) for r in shown], "line": {"color": "#333", "width": 1}},
             "error_y": {"type": "data", "symmetric": False,
                         "array": [_r(r["upper_ci_95"] - r["value"]) if r["upper_ci_95"] is not None else 0
                                   for r in shown],
                         "arrayminus": [_r(r["value"] - r["lower_ci_95"]) if r["lower_ci_95"] is not None else 0
                                        for r in shown]}}]
    layout: dict = {"title": {"text": "Areas ordered by value, with 95% confidence intervals"},
                    "yaxis": {"title": {"text": unit}, "gridcolor": "#eee"}, "xaxis": {"automargin": True},
                    "margin": {"l": 60, "r": 20, "t": 50, "b": 60}}
    if comparator and comparator.get("value") is not None:
        shape, note = _hline(comparator["value"], f"{comparator['area_name']}: {comparator['value']:.3g}")
        layout.update(shapes=[shape], annotations=[note])
    return raw_div(data, layout, div_id, 460)


def funnel_x(row: dict, method: str, multiplier: float) -> float | None:
    """Where an area stands on a funnel plot: its denominator, or for a DSR the one its count and
    rate imply (multiplier × count / DSR), as its published funnel limits are computed."""
    if method == "dsr":
        return multiplier * row["numerator"] / row["value"] if row["numerator"] and row["value"] else None
    return row["denominator"]


def funnel(rows: list[dict], target: float, method: str, multiplier: float, comparator_name: str, unit: str,
           div_id: str) -> str:
    """The areas against their precision, with the 95% and 99.8% control limits published beside
    each value (fct_indicator_value.funnel_*), joined from area to area in order of precision."""
    points = sorted((r for r in rows if r["value"] is not None and r.get("funnel_lower_95") is not None
                     and funnel_x(r, method, multiplier)), key=lambda r: funnel_x(r, method, multiplier))
    xs = [_r(funnel_x(r, method, multiplier)) for r in points]
    data: list[dict] = []
    for level, suffix in (("95%", "95"), ("99.8%", "998")):
        for side in ("lower", "upper"):
            data.append({"type": "scatter", "x": xs, "y": [_r(r[f"funnel_{side}_{suffix}"]) for r in points],
                         "mode": "lines", "line": {"shape": "spline", "color": "#555" if suffix == "998" else "#999",
                                                   "dash": "solid" if suffix == "998" else "dot"},
                         "name": f"{side} {level} limit"})
    data.append({"type": "scatter", "x": xs, "y": [_r(r["value"]) for r in points],
                 "mode": "markers", "text": [f"{r['area_name']}: {r.get('funnel_significance') or ''}" for r in points],
                 "name": "areas", "marker": {"size": 11, "color": [colour(r["comparison"]) for r in points],
                                             "line": {"color": "#333", "width": 1}}})
    shape, note = _hline(target, f"{comparator_name}: {target:.3g}", dash="solid")
    x_title = "Denominator the rate implies (multiplier × count / rate)" if method == "dsr" else "Denominator"
    layout = {"title": {"text": f"Funnel plot: 95% and 99.8% control limits around {comparator_name}",
                        "font": {"size": 13}},
              "xaxis": {"title": {"text": x_title}, "gridcolor": "#eee"},
              "yaxis": {"title": {"text": unit}, "gridcolor": "#eee"}, "shapes": [shape], "annotations": [note],
              "showlegend": True, "margin": {"l": 60, "r": 20, "t": 50, "b": 60}}
    return raw_div(data, layout, div_id, 460)


def deprivation(deciles: list[dict], fitted: dict[str, dict], unit: str, div_id: str) -> str:
    """Each force area's value by IMD decile (1 most deprived) with its 95% CI, and the line the
    slope index of inequality fits (intercept + SII × the decile's cumulative population midpoint)."""
    data: list[dict] = []
    for code in dict.fromkeys(r["area_code"] for r in deciles):
        mine = [r for r in deciles if r["area_code"] == code]
        shown = [r for r in mine if r["value"] is not None]
        data.append({"type": "bar", "name": mine[0]["area_name"], "x": [r["quantile"] for r in shown],
                     "y": [_r(r["value"]) for r in shown], "marker": {"color": "#1f77b4"},
                     "error_y": {"type": "data", "symmetric": False,
                                 "array": [_r(r["upper_ci_95"] - r["value"]) for r in shown],
                                 "arrayminus": [_r(r["value"] - r["lower_ci_95"]) for r in shown]}})
        line = fitted.get(code)
        if line and line.get("sii") is not None:
            data.append({"type": "scatter", "mode": "lines", "name": f"{mine[0]['area_name']}: SII fit",
                         "x": [r["quantile"] for r in mine],
                         "y": [_r(line["intercept"] + line["sii"] * r["cumulative_share_midpoint"]) for r in mine],
                         "line": {"color": "#C00000"}})
    layout = {"title": {"text": "By IMD 2019 decile (1 = most deprived), with 95% confidence intervals"},
              "xaxis": {"title": {"text": "IMD decile"}, "dtick": 1}, "yaxis": {"title": {"text": unit}, "gridcolor": "#eee"},
              "showlegend": True, "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}
    return raw_div(data, layout, div_id, 420)


def _whiskers(rows: list[dict]) -> dict:
    """Thin 95% CI whiskers on every point (a point between two suppressed periods has no band)."""
    def ok(r: dict) -> bool:
        return r["value"] is not None and r["lower_ci_95"] is not None and r["upper_ci_95"] is not None

    return {"type": "data", "symmetric": False, "thickness": 1, "width": 0, "color": "rgba(31,119,180,0.6)",
            "array": [_r(r["upper_ci_95"] - r["value"]) if ok(r) else None for r in rows],
            "arrayminus": [_r(r["value"] - r["lower_ci_95"]) if ok(r) else None for r in rows]}


def _band(rows: list[dict]) -> tuple[list, list]:
    """The 95% CI band as closed shapes, one per run of consecutive periods with an interval (gaps
    between them, so a band never bridges a suppressed or missing period)."""
    xs: list = []
    ys: list = []
    run: list[dict] = []
    for r in [*rows, None]:
        if r is not None and r["lower_ci_95"] is not None and r["upper_ci_95"] is not None:
            run.append(r)
            continue
        if run:
            if xs:
                xs.append(None)
                ys.append(None)
            xs += [str(q["period_label"]) for q in run] + [str(q["period_label"]) for q in reversed(run)]
            ys += [_r(q["upper_ci_95"]) for q in run] + [_r(q["lower_ci_95"]) for q in reversed(run)]
            run = []
    return xs, ys


def trend_chart(rows: list[dict], unit: str, div_id: str) -> str:
    data: list[dict] = []
    bx, by = _band(rows)
    if bx:
        data.append({"type": "scatter", "mode": "lines", "x": bx, "y": by,
                     "fill": "toself", "fillcolor": "rgba(31,119,180,0.2)", "line": {"color": "rgba(0,0,0,0)"},
                     "name": "95% confidence interval", "hoverinfo": "skip"})
    data.append({"type": "scatter", "x": [str(r["period_label"]) for r in rows], "y": [_r(r["value"]) for r in rows],
                 "mode": "lines+markers", "line": {"color": "#1f77b4"}, "name": "value",
                 "marker": {"size": 9, "color": [colour(r["comparison"]) for r in rows],
                            "line": {"color": "#333", "width": 1}}})
    layout = {"title": {"text": "Trend, with 95% confidence interval"}, "yaxis": {"title": {"text": unit},
              "gridcolor": "#eee"}, "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
              "xaxis": {"type": "category", "categoryorder": "array",
                        "categoryarray": [str(r["period_label"]) for r in rows]}}
    return raw_div(data, layout, div_id, 400)


def multi_agency_scatter(rows: list[dict], div_id: str) -> str:
    both = [r for r in rows if r["police_violence_rate"] is not None and r["ae_assault_residence_rate"] is not None]
    data = [{"type": "scatter", "x": [_r(r["police_violence_rate"]) for r in both],
             "y": [_r(r["ae_assault_residence_rate"]) for r in both], "mode": "markers",
             "text": [r["lsoa_name"] for r in both], "marker": {"size": 10, "color": "#1f77b4"}}]
    layout = {"title": {"text": f"LSOAs with both rates published ({len(both)}): police violence against A&E "
                                "assault attendances (by residence)", "font": {"size": 13}},
              "xaxis": {"title": {"text": "Police violence rate"}, "gridcolor": "#eee"},
              "yaxis": {"title": {"text": "A&E assault rate (residence)"}, "gridcolor": "#eee"},
              "margin": {"l": 60, "r": 20, "t": 50, "b": 60}}
    return raw_div(data, layout, div_id, 420)


def _r(x: float | None) -> float | None:
    """Chart data to 6 significant figures (the tables carry the exact values): smaller pages."""
    return None if x is None else float(f"{x:.6g}")


def raw_div(data: list[dict], layout: dict, div_id: str, height: int) -> str:
    """A Plotly chart from plain dicts, drawn by Plotly.newPlot: no figure validation (the cost of
    go.Figure with many traces) and no template copied into every chart."""
    layout = {"paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"size": 11}, "showlegend": False,
              "margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "height": height, **layout}
    payload = json.dumps([data, layout, CONFIG], separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return (f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px;width:100%"></div>'
            f'<script>Plotly.newPlot("{div_id}", ...{payload});</script>')


def small_trends(series: list[tuple[str, str, list[dict]]], div_id: str, columns: int = 3) -> str:
    """One chart of small multiples: per indicator (name, period type, rows oldest first) its value
    with the 95% CI band, markers coloured by comparison."""
    rows_n = math.ceil(len(series) / columns)
    cell_h, gap_x, gap_y = 190, 0.06, 70
    height = rows_n * cell_h + 40
    data: list[dict] = []
    layout: dict = {"annotations": []}
    width = (1 - gap_x * (columns - 1)) / columns
    for n, (name, period_type, rows) in enumerate(series):
        row, col = divmod(n, columns)
        ax = "" if n == 0 else str(n + 1)
        x0 = col * (width + gap_x)
        top = 1 - (row * cell_h) / (height - 40)
        bottom = 1 - ((row + 1) * cell_h - gap_y) / (height - 40)
        labels = [str(r["period_label"]) for r in rows]
        # periods in time order (the CI band, drawn first, would otherwise order the categories)
        layout[f"xaxis{ax}"] = {"domain": [x0, x0 + width], "anchor": f"y{ax}", "type": "category",
                                "categoryorder": "array", "categoryarray": labels,
                                "tickfont": {"size": 9}, "nticks": 6, "showgrid": False}
        layout[f"yaxis{ax}"] = {"domain": [max(bottom, 0), top], "anchor": f"x{ax}", "gridcolor": "#eee",
                                "tickfont": {"size": 9}, "rangemode": "tozero"}
        short = name if len(name) <= 52 else name[:50].rstrip() + "…"
        layout["annotations"].append({"text": f"<b>{short}</b> ({period_type.replace('_', ' ')})", "showarrow": False,
                                      "xref": "paper", "yref": "paper", "x": x0, "y": top, "yanchor": "bottom",
                                      "xanchor": "left", "font": {"size": 10}})
        bx, by = _band(rows)
        if bx:
            data.append({"type": "scatter", "xaxis": f"x{ax}", "yaxis": f"y{ax}", "hoverinfo": "skip", "x": bx, "y": by,
                         "fill": "toself", "fillcolor": "rgba(31,119,180,0.2)", "line": {"color": "rgba(0,0,0,0)"},
                         "mode": "lines"})
        data.append({"type": "scatter", "xaxis": f"x{ax}", "yaxis": f"y{ax}", "x": labels,
                     "y": [_r(r["value"]) for r in rows], "mode": "lines+markers", "name": name,
                     "line": {"color": "#1f77b4", "width": 1.5}, "error_y": _whiskers(rows),
                     "marker": {"size": 6, "color": [colour(r["comparison"]) for r in rows],
                                "line": {"color": "#333", "width": 0.5}}})
    layout["margin"] = {"l": 40, "r": 10, "t": 30, "b": 30}
    return raw_div(data, layout, div_id, height)


# a sequential palette (ColorBrewer YlOrRd, 5 classes) for LSOA maps; grey where there is no value
MAP_BINS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
MAP_NO_VALUE = "#d9d9d9"


def quantile_breaks(values: list[float], classes: int = len(MAP_BINS)) -> list[float]:
    """Upper edges of up to `classes` quantile classes of the values (the last is the maximum); a
    class whose edge equals the one before is merged into it (few or tied values: fewer classes)."""
    ordered = sorted(values)
    edges = [ordered[min(len(ordered) - 1, math.ceil(len(ordered) * (k + 1) / classes) - 1)]
             for k in range(classes)] if ordered else []
    return sorted(set(edges))


def map_colour(value: float | None, breaks: list[float]) -> str:
    if value is None or not breaks:
        return MAP_NO_VALUE
    for colour_, edge in zip(MAP_BINS, breaks, strict=False):
        if value <= edge:
            return colour_
    return MAP_BINS[-1]


def _rings(geometry: dict) -> list[list[list[float]]]:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [ring for polygon in polygons for ring in polygon]


def lsoa_map(shapes: list[dict], layers: list[dict], div_id: str) -> str:
    """An LSOA choropleth drawn as filled lon/lat polygons (one scatter trace per LSOA, holes and
    parts separated by gaps), no base map and so no network fetch. `shapes`: code, name, geometry
    (GeoJSON dict); `layers`: one per indicator (title, values by code, breaks), the first shown and
    the others a button away (Plotly `update`: fill colours, hover text and the legend change; the
    polygons are sent once). Each trace's `meta` holds its LSOA code and its value in every layer."""
    data, lons, lats = [], [], []
    for s in shapes:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for ring in _rings(s["geometry"]):
            xs += [p[0] for p in ring] + [None]
            ys += [p[1] for p in ring] + [None]
        lons += [x for x in xs if x is not None]
        lats += [y for y in ys if y is not None]
        data.append({"type": "scatter", "mode": "lines", "x": xs[:-1], "y": ys[:-1], "fill": "toself",
                     "line": {"color": "#555", "width": 0.5}, "hoveron": "fills", "hoverinfo": "text",
                     "name": s["code"], "meta": {"lsoa": s["code"], "values": [l_["values"].get(s["code"]) for l_ in layers]}})

    def state(layer: dict) -> tuple[dict, dict]:
        colours = [map_colour(layer["values"].get(s["code"]), layer["breaks"]) for s in shapes]
        text = [f"{s['name']} ({s['code']}): " + (f"{v:.3g}" if (v := layer["values"].get(s["code"])) is not None
                                                   else "no value") for s in shapes]
        low = [None, *layer["breaks"][:-1]]
        swatch = "<span style='color:{};font-size:15px'>■</span> "
        legend = "<br>".join(swatch.format(c) + (f"≤ {hi:.3g}" if lo is None else f"{lo:.3g} – {hi:.3g}")
                             for c, lo, hi in zip(MAP_BINS, low, layer["breaks"], strict=False))
        legend += "<br>" + swatch.format(MAP_NO_VALUE) + "no value (suppressed or none)"
        annotation = {"xref": "paper", "yref": "paper", "x": 1.0, "y": 1.0, "xanchor": "left", "yanchor": "top",
                      "align": "left", "showarrow": False, "text": legend, "bgcolor": "rgba(255,255,255,0.85)"}
        return {"fillcolor": colours, "text": text}, {"annotations": [annotation], "title": {"text": layer["title"]}}

    first_trace, first_layout = state(layers[0])
    for trace, fill, text in zip(data, first_trace["fillcolor"], first_trace["text"], strict=True):
        trace.update(fillcolor=fill, text=text)
    mid = (min(lats) + max(lats)) / 2 if lats else 52.0
    layout = {**first_layout, "margin": {"l": 10, "r": 200, "t": 50, "b": 10},
              "xaxis": {"visible": False, "range": [min(lons), max(lons)] if lons else None},
              "yaxis": {"visible": False, "scaleanchor": "x", "scaleratio": 1 / math.cos(math.radians(mid))},
              "hovermode": "closest"}
    if len(layers) > 1:
        layout["updatemenus"] = [{"type": "dropdown", "x": 0, "y": 1.12, "xanchor": "left", "yanchor": "top",
                                  "buttons": [{"label": layer["label"], "method": "update", "args": list(state(layer))}
                                              for layer in layers]}]
        layout["margin"]["t"] = 90
    return raw_div(data, layout, div_id, 640)
