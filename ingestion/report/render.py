"""Write the static HTML report: Jinja2 pages, Plotly charts, plotly.min.js shipped once in assets/."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import markupsafe
import plotly.offline

from ingestion import progress
from ingestion.report import charts, data, templates

ENGLAND = "E92000001"
MARKER = ".vru-report"      # marks a folder as a report this module wrote (and may replace)
DISCLOSURE = {
    "rate_count_below_10": "no rate or interval from fewer than 10 events (Fingertips rule)",
    "nhs_small_numbers": "counts 1–7 and zeros hidden (with secondary suppression), others rounded to 5 (NHS rule)",
    "none": "published as the source publishes it; the source's own suppression is kept",
}
# how the published funnel limits were found, by method (dbt_project/macros/indicator_methods.sql)
FUNNEL_METHOD = {
    "proportion": "the Wilson score inverted at each area's denominator, as PHEindicatormethods draws them.",
    "crude_rate": "the counts whose exact Poisson limits reach the count expected at the comparator's rate, "
                  "as PHEindicatormethods draws them.",
    "dsr": "the counts whose exact Poisson limits reach the count expected at the comparator's rate, at the "
           "denominator each rate implies, as PHEindicatormethods draws them.",
    "isratio": "the counts whose exact Poisson limits reach the expected count, as PHEindicatormethods draws them.",
    "israte": "the counts whose exact Poisson limits reach the count expected at the comparator's rate, "
              "as PHEindicatormethods draws them.",
}
NOTE_KEYS = [   # (text in a note, title, explanation)
    ("Fingertips", "Suppressed: fewer than 10 events",
     "No rate or confidence interval is published from fewer than 10 events (Fingertips rule)."),
    ("NHS", "Hidden: NHS small-number rule",
     ("Counts from 0 to 7 are hidden, and any count from which one could be worked out; other counts are rounded "
      "to the nearest 5.")),
    ("not delivered", "Not delivered",
     "A reporting unit did not deliver data for the period: the value is missing, not zero."),
    ("withheld", "Withheld by the source", "The publisher held the figure back; this platform did not compute it."),
    ("located", "Records located", "Share of the source's records that could be placed in an area."),
    ("not published at this area level", "Not at this level", "The indicator is not published for this kind of area."),
]


class ReportError(Exception):
    pass


def fmt(value, digits: int | None = None) -> str:
    if value is None:
        return ""
    if digits is not None:
        return f"{value:,.{digits}f}"
    a = abs(value)
    if a >= 100:
        return f"{value:,.1f}"
    if a >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def _ci(r: dict, level: str = "95") -> str:
    lo, hi = r.get(f"lower_ci_{level}"), r.get(f"upper_ci_{level}")
    return "" if lo is None or hi is None else f"{fmt(lo)} – {fmt(hi)}"


def _note(r: dict) -> str:
    parts = [p for p in (r.get("suppression_reason"), r.get("value_note")) if p]
    if r.get("located_percent") is not None and r["located_percent"] < 100:
        parts.append(f"{r['located_percent']:.1f}% of records located")
    return "; ".join(dict.fromkeys(parts))


def _unit(ind: dict) -> str:
    if ind["method"] == "proportion":
        return "%" if ind.get("multiplier") == 100 else f"per {ind.get('multiplier') or 1:,}"
    return f"per {ind['multiplier']:,}" if ind.get("multiplier") else "value"


def _multi_agency_rows(rows: list[dict]) -> markupsafe.Markup:
    """The panel's table body, a row per LSOA. Written here rather than cell by cell in Jinja,
    which took over a second for a national month's 33,000 rows. Names and notes are escaped;
    fmt() writes only digits, separators and signs. The figures are the mart's own, in its column
    order: each <figure>_count with its _rate and _note (fct_multi_agency_lsoa_month)."""
    escape, out = markupsafe.escape, []
    figures = [name.removesuffix("_count") for name in (rows[0] if rows else {}) if name.endswith("_count")]
    for r in rows:
        code = escape(r["lsoa21_code"])
        out.append(f'<tr data-lsoa="{code}"><td>{escape(r["lsoa_name"])} <span class="muted">{code}</span></td>')
        for figure in figures:
            out.append(f'<td class="num">{fmt(r[f"{figure}_count"])}</td><td class="num">{fmt(r[f"{figure}_rate"])}'
                       f'</td><td class="note">{escape(r[f"{figure}_note"] or "")}</td>')
        out.append("</tr>\n")
    return markupsafe.Markup("".join(out))


def _decorate(r: dict) -> dict:
    r = dict(r)
    r["value_text"] = fmt(r.get("value")) if r.get("value") is not None else "–"
    r["numerator_text"] = fmt(r.get("numerator"), 0)
    r["denominator_text"] = fmt(r.get("denominator"), 0)
    r["ci_text"], r["ci998_text"] = _ci(r), _ci(r, "998")
    r["colour"] = charts.colour(r.get("comparison"))
    r["note"] = _note(r)
    return r


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.DictLoader({
        "base": templates.BASE, "index": templates.INDEX, "area": templates.AREA, "indicator": templates.INDICATOR,
        "multi": templates.MULTI, "methods": templates.METHODS, "rug": templates.RUG,
        "maps": templates.MAPS, "map": templates.MAP}),
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.globals["fmt"] = fmt
    env.globals["colours"] = charts.COLOURS
    return env


def _area_page(rd: data.ReportData, area: dict, values: dict[str, dict], trends: dict[str, list[dict]]) -> dict:
    out = []
    for ind in rd.indicators:
        iid = ind["indicator_id"]
        r = values.get(iid)
        if r is None:
            out.append({"indicator_id": iid, "indicator_name": ind["indicator_name"], "period_label": "",
                        "value": None, "value_text": "–", "numerator_text": "", "ci_text": "", "colour": charts.colour(None),
                        "comparator_name": "", "comparator_value": None, "comparator_text": "", "england_text": "",
                        "comparison": "not compared", "note": "not published at this area level"})
            continue
        r = _decorate(r)
        r.update(indicator_name=ind["indicator_name"],
                 comparator_name=r["comparator_name"] or "",
                 comparator_text=fmt(r["comparator_value"]),
                 england_text=fmt(r["england_value"]))
        out.append(r)
    notes = []
    for key, title, why in NOTE_KEYS:
        if any(key in (r["note"] or "") for r in out):
            notes.append((title, why))
    series = [(ind["indicator_name"], rd.trend_period[ind["indicator_id"]], trends[ind["indicator_id"]])
              for ind in rd.indicators if trends.get(ind["indicator_id"])]
    return {"rows": out, "notes": notes, "spine": charts.spine(out, "spine-chart"),
            "trends": charts.small_trends(series, "area-trends") if series else "",
            "trend_count": len(series), "trend_periods": data.TREND_PERIODS}


def _indicator_page(con, rd: data.ReportData, ind: dict, by_level: dict[str, list[dict]]) -> dict:
    iid = ind["indicator_id"]
    unit = _unit(ind)
    page: dict = {"ind": ind, "disclosure_text": DISCLOSURE.get(ind["disclosure_rule"], ""), "bars": "", "table": [],
                  "funnel": "", "trend": "", "level_name": "Area", "period_label": "no data", "trend_area": "the force"}
    period_type = rd.headline.get(iid)
    if period_type:
        level_rows: list[dict] = []
        for level in data.BAR_LEVELS:
            level_rows = by_level.get(level, [])
            if any(r["value"] is not None for r in level_rows):
                page["level_name"] = data.LEVEL_NAMES[level]
                break
        if level_rows:
            page["period_label"] = level_rows[0]["period_label"] or str(level_rows[0]["period_start"])
            code = Counter(r["comparator_area_code"] for r in level_rows if r["comparator_area_code"]).most_common(1)
            comparator = data.value_at(con, iid, period_type, level_rows[0]["period_start"], code[0][0]) if code else None
            page["table"] = [_decorate(r) for r in level_rows]
            page["bars"] = charts.bars(level_rows, comparator, unit, "bar-chart")
            target = comparator["value"] if comparator else None
            if target and any(r["value"] is not None and r.get("funnel_lower_95") is not None for r in level_rows):
                page["funnel"] = charts.funnel(level_rows, target, ind["method"], ind.get("multiplier") or 1,
                                               comparator["area_name"], unit, "funnel-chart")
                page["funnel_note"] = ("Suppressed values are not plotted. The limits are those published beside each "
                                       "value (see the methods page): " + FUNNEL_METHOD.get(ind["method"], ""))
            else:
                page["funnel_note"] = "No funnel plot: no comparator value or no unsuppressed values."
        else:
            page["funnel_note"] = "No funnel plot: no values."
    else:
        page["funnel_note"] = "No funnel plot: no values."
    summary, deciles = data.inequality(con, iid)
    page["inequality"] = [_inequality_row(r) for r in summary]
    page["inequality_period"] = summary[0]["period_label"] if summary else ""
    fitted = {r["area_code"]: r for r in data.rows(con, """select area_code, sii, intercept from fct_indicator_inequality
        where indicator_id = ? and period_type = ? and period_start = ? and quantile_type = 'decile'
          and area_type = 'pfa'""", [iid, deciles[0]["period_type"], deciles[0]["period_start"]])} if deciles else {}
    page["deprivation"] = charts.deprivation(deciles, fitted, unit, "deprivation-chart") if deciles else ""
    tp = rd.trend_period.get(iid)
    if tp:
        rows = data.trend(con, iid, tp, "pfa")
        if rows:
            first = rows[0]["area_code"]
            rows = [r for r in rows if r["area_code"] == first]
            page["trend_area"] = f"{rows[0]['area_name']} ({tp.replace('_', ' ')})"
            page["trend"] = charts.trend_chart(rows, unit, "trend-chart")
    return page


def _inequality_row(r: dict) -> dict:
    def interval(low, high) -> str:
        return f"{fmt(low)} to {fmt(high)}" if low is not None and high is not None else ""

    return {**r, "sii_text": fmt(r["sii"]) if r["sii"] is not None else "–",
            "sii_ci_text": interval(r["sii_lower_95"], r["sii_upper_95"]),
            "rii_text": fmt(r["rii"]) if r["rii"] is not None else "–",
            "rii_ci_text": interval(r["rii_lower_95"], r["rii_upper_95"]),
            "note": r["note"] or ""}


def _rugs(rd: data.ReportData, by_indicator_level: dict[tuple[str, str], list[dict]]) -> list[dict]:
    """A tartan rug per area level: indicators as rows, the level's areas as columns, each cell the
    indicator's value in the level's latest headline period, coloured by its comparison."""
    rugs = []
    for level in data.RUG_LEVELS:
        cells: dict[tuple[str, str], dict] = {}
        areas: dict[str, str] = {}
        rows = []
        for ind in rd.indicators:
            level_rows = by_indicator_level.get((ind["indicator_id"], level), [])
            if not level_rows:
                continue
            rows.append({"indicator_id": ind["indicator_id"], "indicator_name": ind["indicator_name"],
                         "period_label": level_rows[0]["period_label"] or str(level_rows[0]["period_start"])})
            for r in level_rows:
                areas[r["area_code"]] = r["area_name"]
                cells[(ind["indicator_id"], r["area_code"])] = _decorate(r)
        if not rows:
            continue
        columns = [{"area_code": c, "area_name": n, "href": f"areas/{level}-{c}.html"}
                   for c, n in sorted(areas.items(), key=lambda kv: (kv[1], kv[0]))]
        rugs.append({"level": level, "level_name": data.LEVEL_NAMES[level], "rows": rows, "columns": columns,
                     "cells": cells, "href": f"rug-{level}.html"})
    return rugs


def _maps(con, rd: data.ReportData) -> tuple[bool, list[dict], list[dict]]:
    """LSOA maps, one page per district with boundaries and LSOA values: (loaded, indicators, pages)."""
    loaded, indicators, boundaries, values = data.lsoa_map_data(con)
    if not loaded or not indicators:
        return loaded, indicators, []
    by_indicator: dict[str, dict[str, float]] = {}
    for v in values:
        if v["value"] is not None:
            by_indicator.setdefault(v["indicator_id"], {})[v["area_code"]] = v["value"]
    layers = [{"indicator_id": i["indicator_id"], "label": i["indicator_name"][:60],
               "title": f"{i['indicator_name']}, {i['period_label']}", "period_label": i["period_label"],
               "period_type": i["period_type"], "values": by_indicator.get(i["indicator_id"], {}),
               "breaks": charts.quantile_breaks(list(by_indicator.get(i["indicator_id"], {}).values()))}
              for i in indicators]
    districts: dict[str, list[dict]] = {}
    for b in boundaries:
        districts.setdefault(b["lad_code"], []).append(
            {"code": b["lsoa21_code"], "name": b["lsoa21_name"], "geometry": json.loads(b["geometry_geojson"])})
    pages = []
    for lad, shapes in sorted(districts.items(), key=lambda kv: (rd.area_names.get(kv[0], kv[0]), kv[0])):
        mine = [dict(layer, values={s["code"]: layer["values"][s["code"]] for s in shapes if s["code"] in layer["values"]})
                for layer in layers]
        # the indicator with values in most of the district's LSOAs first
        mine = sorted((layer for layer in mine if layer["values"]), key=lambda layer: -len(layer["values"]))
        if not mine:
            continue
        pages.append({"lad_code": lad, "lad_name": rd.area_names.get(lad, lad), "href": f"maps/lad-{lad}.html",
                      "shapes": len(shapes), "layers": mine, "map": charts.lsoa_map(shapes, mine, "map-chart")})
    return loaded, indicators, pages


def _swap_in(staging: Path, out_dir: Path) -> None:
    if out_dir.exists():
        if any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
            raise ReportError(f"{out_dir} is neither empty nor an earlier report: not replacing it")
        old = out_dir.with_name(out_dir.name + ".old-" + next(tempfile._get_candidate_names()))
        os.rename(out_dir, old)
        os.rename(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, out_dir)


def write_report(published_db: Path, out_dir: Path, reporter: progress.Reporter | None = None) -> Path:
    """Write the report for `published_db` into `out_dir` (replaced whole); returns its index.html.
    Written in a staging folder beside `out_dir` and swapped in only when complete: a failure leaves
    the previous report as it was. Two writers of one folder (two DAGs publishing) take turns on an
    exclusive lock of the parent folder (flock on its descriptor: no lock file is left behind)."""
    published_db, out_dir = Path(published_db), Path(out_dir)
    if not published_db.exists():
        raise ReportError(f"no published warehouse at {published_db}: run `vru publish` first")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    parent = os.open(out_dir.parent, os.O_RDONLY)
    try:
        fcntl.flock(parent, fcntl.LOCK_EX)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
        try:
            _write(published_db, staging, reporter)
            _swap_in(staging, out_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        os.close(parent)     # releases the lock
    return out_dir / "index.html"


def _identity(published_db: Path) -> str:
    """The published file as it is now: name, size and modification time (publishing replaces the
    file, so a new publish changes them)."""
    stat = Path(published_db).stat()
    return f"{Path(published_db).name} {stat.st_size} {stat.st_mtime_ns}"


def write_published_report() -> Path:
    """The report of the published file, in report/ beside it (the DAGs' `report` task, after
    `publish`); left as it is when it was written from the published file as it is now (a run
    with nothing new republishes nothing, so it rewrites no report)."""
    from ingestion.settings import get_settings

    published = get_settings().published_db
    out_dir = published.parent / "report"
    marker = out_dir / MARKER
    if published.exists() and (out_dir / "index.html").exists() and marker.exists() \
            and marker.read_text(encoding="utf-8").strip().endswith(f"from {_identity(published)}"):
        return out_dir / "index.html"
    return write_report(published, out_dir)


def _write(published_db: Path, out: Path, reporter: progress.Reporter | None) -> None:
    env = _environment()
    (out / "assets").mkdir()
    (out / "areas").mkdir()
    (out / "indicators").mkdir()
    (out / "maps").mkdir()
    (out / "assets" / "plotly.min.js").write_text(plotly.offline.get_plotlyjs(), encoding="utf-8")
    (out / "assets" / "report.css").write_text(templates.CSS, encoding="utf-8")
    (out / MARKER).write_text(f"written by ingestion.report from {_identity(published_db)}\n", encoding="utf-8")
    common = {"generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "source": published_db.name}

    step = None          # the pages' progress, once their number is known

    def page(path: str, template: str, **context) -> None:
        root = "../" * path.count("/")
        html = env.get_template(template).render(root=root, **common, **context)
        (out / path).write_text(html, encoding="utf-8")
        if step is not None:
            step.advance(nbytes=len(html))

    con = data.connect(published_db)
    with contextlib.ExitStack() as stack:
        stack.callback(con.close)
        rd = data.load(con)
        areas = [dict(a, level=data.LEVEL_NAMES[a["area_type"]], href=f"areas/{a['area_type']}-{a['area_code']}.html")
                 for a in rd.areas]
        inds = [dict(i, href=f"indicators/{i['indicator_id']}.html") for i in rd.indicators]
        dq_passed = all(c["success"] for c in rd.checks)
        dq_when = max((c["checked_at"] for c in rd.checks), default=None)
        headline = data.headline_values(con, rd.headline)
        values: dict[tuple[str, str], dict[str, dict]] = {}
        for r in headline:
            values.setdefault((r["area_type"], r["area_code"]), {})[r["indicator_id"]] = r
        trends: dict[tuple[str, str], dict[str, list[dict]]] = {}
        for r in data.area_trends(con, rd.trend_period):
            trends.setdefault((r["area_type"], r["area_code"]), {}).setdefault(r["indicator_id"], []).append(r)
        by_level: dict[tuple[str, str], list[dict]] = {}
        for r in data.level_latest_values(con, rd.headline):
            by_level.setdefault((r["indicator_id"], r["area_type"]), []).append(r)
        rugs = _rugs(rd, by_level)
        maps_loaded, map_indicators, maps = _maps(con, rd)
        map_of = {m["lad_code"]: m["href"] for m in maps}
        pages = 4 + len(areas) + len(inds) + len(rugs) + len(maps)    # index, maps, multi-agency, methods
        step = stack.enter_context(progress.current(reporter).step("report", total=pages, unit="pages"))
        page("index.html", "index", title="VRU indicator report", charts=False, checks=rd.checks, dq_passed=dq_passed,
             dq_when=f"{dq_when:%Y-%m-%d %H:%M} UTC" if dq_when else "", coverage=rd.coverage, areas=areas,
             indicators=inds, rugs=rugs, maps=maps)
        for a in areas:
            key = (a["area_type"], a["area_code"])
            page(a["href"], "area", title=a["area_name"], charts=True, area=a, level=a["level"],
                 map_href=map_of.get(a["area_code"]) if a["area_type"] == "lad" else None,
                 **_area_page(rd, a, values.get(key, {}), trends.get(key, {})))
        for i in inds:
            mine = {level: rows for (iid, level), rows in by_level.items() if iid == i["indicator_id"]}
            page(i["href"], "indicator", title=i["indicator_name"], charts=True, **_indicator_page(con, rd, i, mine))
        for rug in rugs:
            page(rug["href"], "rug", title=f"Tartan rug: {rug['level_name'].lower()}s", charts=False, rug=rug)
        page("maps.html", "maps", title="LSOA maps", charts=False, loaded=maps_loaded, indicators=map_indicators,
             maps=maps)
        for m in maps:
            page(m["href"], "map", title=f"LSOA map: {m['lad_name']}", charts=True, m=m)
        month, ma_rows = data.multi_agency(con)
        page("multi_agency.html", "multi", title="Multi-agency LSOA panel: police beside A&E", charts=bool(month),
             month=f"{month:%B %Y}" if month else "", table_rows=_multi_agency_rows(ma_rows),
             scatter=charts.multi_agency_scatter(ma_rows, "ma-chart") if month else "")
        page("methods.html", "methods", title="Methods", charts=False)
