"""Write the static HTML report: Jinja2 pages, Plotly charts, plotly.min.js shipped once in assets/."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import plotly.offline

from ingestion.report import charts, data, templates

ENGLAND = "E92000001"
MARKER = ".vru-report"      # marks a folder as a report this module wrote (and may replace)
DISCLOSURE = {
    "rate_count_below_10": "no rate or interval from fewer than 10 events (Fingertips rule)",
    "nhs_small_numbers": "counts 1–7 and zeros hidden (with secondary suppression), others rounded to 5 (NHS rule)",
    "none": "published as the source publishes it; the source's own suppression is kept",
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
        "multi": templates.MULTI, "methods": templates.METHODS}),
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.globals["fmt"] = fmt
    env.globals["colours"] = charts.COLOURS
    return env


def _area_page(con, rd: data.ReportData, area: dict) -> dict:
    values = data.area_values(con, area["area_code"], area["area_type"], rd.headline)
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
        comp = data.value_at(con, iid, r["period_type"], r["period_start"], r.get("comparator_area_code"))
        eng = data.value_at(con, iid, r["period_type"], r["period_start"], ENGLAND)
        r.update(indicator_name=ind["indicator_name"],
                 comparator_name=comp["area_name"] if comp else "",
                 comparator_value=comp["value"] if comp else None,
                 comparator_text=fmt(comp["value"]) if comp else "",
                 england_text=fmt(eng["value"]) if eng else "")
        out.append(r)
    notes = []
    for key, title, why in NOTE_KEYS:
        if any(key in (r["note"] or "") for r in out):
            notes.append((title, why))
    fig = charts.spine(out)
    return {"rows": out, "notes": notes, "spine": charts.to_div(fig, "spine-chart")}


def _indicator_page(con, rd: data.ReportData, ind: dict) -> dict:
    iid = ind["indicator_id"]
    unit = _unit(ind)
    page: dict = {"ind": ind, "disclosure_text": DISCLOSURE.get(ind["disclosure_rule"], ""), "bars": "", "table": [],
                  "funnel": "", "trend": "", "level_name": "Area", "period_label": "no data", "trend_area": "the force"}
    period_type = rd.headline.get(iid)
    if period_type:
        level_rows: list[dict] = []
        for level in data.BAR_LEVELS:
            level_rows = data.latest_values(con, iid, period_type, (level,))
            if any(r["value"] is not None for r in level_rows):
                page["level_name"] = data.LEVEL_NAMES[level]
                break
        if level_rows:
            page["period_label"] = level_rows[0]["period_label"] or str(level_rows[0]["period_start"])
            code = Counter(r["comparator_area_code"] for r in level_rows if r["comparator_area_code"]).most_common(1)
            comparator = data.value_at(con, iid, period_type, level_rows[0]["period_start"], code[0][0]) if code else None
            page["table"] = [_decorate(r) for r in level_rows]
            page["bars"] = charts.to_div(charts.bars(level_rows, comparator, unit), "bar-chart")
            target = comparator["value"] if comparator else None
            if ind["method"] in ("crude_rate", "proportion") and target and \
                    any(r["value"] is not None and r["denominator"] for r in level_rows):
                fig = charts.funnel(level_rows, target, ind["method"], ind.get("multiplier") or 1,
                                    comparator["area_name"], unit)
                page["funnel"] = charts.to_div(fig, "funnel-chart")
                page["funnel_note"] = ("Suppressed values are not plotted. Limits: " +
                                       ("Byar's approximation to exact Poisson limits on the expected count."
                                        if ind["method"] == "crude_rate" else "normal approximation to the binomial."))
            else:
                page["funnel_note"] = ("No funnel plot: " + ("it is not drawn for directly standardised rates."
                                       if ind["method"] == "dsr" else "no comparator value or no unsuppressed values."))
        else:
            page["funnel_note"] = "No funnel plot: no values."
    else:
        page["funnel_note"] = "No funnel plot: no values."
    tp = rd.trend_period.get(iid)
    if tp:
        rows = data.trend(con, iid, tp, "pfa")
        if rows:
            first = rows[0]["area_code"]
            rows = [r for r in rows if r["area_code"] == first]
            page["trend_area"] = f"{rows[0]['area_name']} ({tp.replace('_', ' ')})"
            page["trend"] = charts.to_div(charts.trend_chart(rows, unit), "trend-chart")
    return page


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


def write_report(published_db: Path, out_dir: Path) -> Path:
    """Write the report for `published_db` into `out_dir` (replaced whole); returns its index.html."""
    published_db, out_dir = Path(published_db), Path(out_dir)
    if not published_db.exists():
        raise ReportError(f"no published warehouse at {published_db}: run `vru publish` first")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        _write(published_db, staging)
        _swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / "index.html"


def _write(published_db: Path, out: Path) -> None:
    env = _environment()
    (out / "assets").mkdir()
    (out / "areas").mkdir()
    (out / "indicators").mkdir()
    (out / "assets" / "plotly.min.js").write_text(plotly.offline.get_plotlyjs(), encoding="utf-8")
    (out / "assets" / "report.css").write_text(templates.CSS, encoding="utf-8")
    (out / MARKER).write_text("written by ingestion.report\n", encoding="utf-8")
    common = {"generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "source": published_db.name}

    def page(path: str, template: str, **context) -> None:
        root = "../" * path.count("/")
        html = env.get_template(template).render(root=root, **common, **context)
        (out / path).write_text(html, encoding="utf-8")

    con = data.connect(published_db)
    try:
        rd = data.load(con)
        areas = [dict(a, level=data.LEVEL_NAMES[a["area_type"]], href=f"areas/{a['area_type']}-{a['area_code']}.html")
                 for a in rd.areas]
        inds = [dict(i, href=f"indicators/{i['indicator_id']}.html") for i in rd.indicators]
        dq_passed = all(c["success"] for c in rd.checks)
        dq_when = max((c["checked_at"] for c in rd.checks), default=None)
        page("index.html", "index", title="VRU indicator report", charts=False, checks=rd.checks, dq_passed=dq_passed,
             dq_when=f"{dq_when:%Y-%m-%d %H:%M} UTC" if dq_when else "", coverage=rd.coverage, areas=areas,
             indicators=inds)
        for a in areas:
            page(a["href"], "area", title=a["area_name"], charts=True, area=a, level=a["level"],
                 **_area_page(con, rd, a))
        for i in inds:
            page(i["href"], "indicator", title=i["indicator_name"], charts=True, **_indicator_page(con, rd, i))
        month, ma_rows = data.multi_agency(con)
        page("multi_agency.html", "multi", title="Multi-agency LSOA panel: police beside A&E", charts=bool(month),
             month=f"{month:%B %Y}" if month else "", rows=ma_rows,
             scatter=charts.to_div(charts.multi_agency_scatter(ma_rows), "ma-chart") if month else "")
        page("methods.html", "methods", title="Methods", charts=False)
    finally:
        con.close()
