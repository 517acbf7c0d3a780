"""`vru report`: the static Fingertips-style HTML report, opened page by page in headless Chromium.

Fixture: the mini geography and January's police.uk street file (violence in two LSOAs, robbery in one:
counts above and below Fingertips' suppression threshold), built, checked and published as the pipeline
does (about 50 s, most of it dbt build), then the report written from the published file.
Chromium is the Debian package (`make browser`, a prerequisite of `make test`), driven by Playwright's
own driver from the PyPI wheel; `playwright install` is never run.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import MINI_CENTROIDS, MINI_LSOAS, write_mini_reference
from test_police_street_load import ROBBERY, VIOLENCE, write_street

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
READING_A, SLOUGH_A = MINI_LSOAS[0][:2], MINI_LSOAS[2][:2]
READING_LAD = "E06000038"


def _chromium() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    return CHROMIUM if CHROMIUM.exists() else None


def _write_boundaries(path: Path) -> None:
    """LSOA 2021 boundaries for the four mini LSOAs: a square around each centroid, the first a
    MultiPolygon of two squares, one with a hole (so parts and holes are drawn)."""
    def square(lat: float, lon: float, half: float) -> list[list[float]]:
        return [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half],
                [lon - half, lat - half]]

    features = []
    for n, (code, (lat, lon)) in enumerate(MINI_CENTROIDS.items()):
        if n == 0:
            geometry = {"type": "MultiPolygon", "coordinates": [[square(lat, lon, 0.01), square(lat, lon, 0.003)[::-1]],
                                                                 [square(lat - 0.03, lon, 0.005)]]}
        else:
            geometry = {"type": "Polygon", "coordinates": [square(lat, lon, 0.01)]}
        features.append({"type": "Feature", "properties": {"LSOA21CD": code}, "geometry": geometry})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VRU_WAREHOUSE_DIR", str(root / "warehouse"))
        from ingestion import pipeline
        from ingestion.publish import publish
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        _write_boundaries(landing / "boundaries" / "mini_lsoa21.geojson")
        write_street(landing / "police", "2025-01", [(READING_A, VIOLENCE, 11), (SLOUGH_A, VIOLENCE, 3),
                                                     (READING_A, ROBBERY, 2)])
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build"])
        pipeline.check_marts()
        publish()
        yield get_settings().published_db


@pytest.fixture(scope="module")
def report(published, tmp_path_factory) -> Path:
    from ingestion.report import write_report

    index = write_report(published, tmp_path_factory.mktemp("site") / "report")
    return index.parent


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("/usr/bin/chromium is missing and could not be installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(chromium), headless=True,
            args=ARGS, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


def _open(browser, path: Path):
    """Open a page; return it with its console errors, page errors and failed requests."""
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(path.as_uri(), wait_until="load")
    if page.locator("div.chart").count():
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
    return page, problems


def _query(db: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _colours(browser, png: bytes) -> int:
    """Distinct colours in a PNG, counted by the browser's own decoder (no imaging library needed)."""
    page = browser.new_page()
    try:
        return page.evaluate("""async (src) => {
            const img = new Image(); img.src = src; await img.decode();
            const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
            const g = c.getContext('2d'); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data; const seen = new Set();
            for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
            return seen.size; }""", "data:image/png;base64," + base64.b64encode(png).decode())
    finally:
        page.close()


def test_the_report_has_every_page_and_ships_its_scripts(published, report):
    indicators = {r[0] for r in _query(published, "select indicator_id from dim_indicator")}
    assert {p.stem for p in (report / "indicators").glob("*.html")} == indicators
    areas = {p.stem for p in (report / "areas").glob("*.html")}
    assert f"pfa-{_query(published, 'select area_code from dim_area where area_type = ?', ['pfa'])[0][0]}" in areas
    assert f"lad-{READING_LAD}" in areas
    assert not any(p.startswith(("lsoa-", "msoa-")) for p in areas)
    assert (report / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    for html in report.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text, html


def test_every_page_opens_in_chromium_without_errors_or_failed_requests(browser, report):
    pages = sorted(report.rglob("*.html"))
    assert len(pages) >= 8
    for path in pages:
        page, problems = _open(browser, path)
        try:
            assert problems == [], (path, problems)
            assert page.locator("h1").inner_text().strip()
            for chart in page.locator("div.chart").all():
                assert chart.locator(".js-plotly-plot").count() == 1, path
        finally:
            page.close()


def test_charts_are_drawn_not_blank(browser, report, tmp_path):
    shots = {"area": (report / "areas" / f"lad-{READING_LAD}.html", "#spine-chart"),
             "indicator-bars": (report / "indicators" / "violence_offences_rate.html", "#bar-chart"),
             "indicator-funnel": (report / "indicators" / "violence_offences_rate.html", "#funnel-chart"),
             "indicator-trend": (report / "indicators" / "violence_offences_rate.html", "#trend-chart")}
    for name, (path, selector) in shots.items():
        page, problems = _open(browser, path)
        try:
            png = page.locator(selector).screenshot(path=str(tmp_path / f"{name}.png"))
        finally:
            page.close()
        assert problems == []
        # axes, gridlines, text and coloured markers: far more than a blank or one-colour box
        assert _colours(browser, png) > 20, name
    print("screenshots in", tmp_path)


def _close(shown: str, expected: float | None) -> bool:
    if expected is None:
        return shown == ""
    return math.isclose(float(shown), expected, rel_tol=1e-12)


def test_area_page_numbers_equal_the_marts(browser, published, report):
    page, problems = _open(browser, report / "areas" / f"lad-{READING_LAD}.html")
    try:
        expected = {r[0]: r[1:] for r in _query(published, """
            select indicator_id, value, comparison from fct_indicator_value
            where area_code = ? and area_type = 'lad' and period_type = 'month'
            qualify row_number() over (partition by indicator_id order by period_start desc) = 1""", [READING_LAD])}
        rows = page.locator("#spine-table tbody tr")
        seen = 0
        for i in range(rows.count()):
            row = rows.nth(i)
            iid = row.get_attribute("data-indicator")
            if iid not in expected:
                continue
            value, comparison = expected[iid]
            assert _close(row.locator("td.value").get_attribute("data-value"), value), iid
            assert row.locator("td.comparison").inner_text().strip() == comparison, iid
            seen += 1
        assert seen == len(expected) > 0
        violence = expected["violence_offences_rate"][0]
        assert violence is not None
        shown = page.locator('tr[data-indicator="violence_offences_rate"] td.value').inner_text()
        assert math.isclose(float(shown.replace(",", "")), violence, rel_tol=5e-3)
        # robbery in Reading (2 offences) is suppressed: no value, and the Fingertips note is shown and explained
        robbery = page.locator('tr[data-indicator="robbery_rate"]')
        assert robbery.locator("td.value").get_attribute("data-value") == ""
        assert "below 10" in robbery.locator("td.note").inner_text()
        assert "fewer than 10 events" in page.locator("main").inner_text()
    finally:
        page.close()
    assert problems == []


def test_indicator_page_numbers_equal_the_marts(browser, published, report):
    page, problems = _open(browser, report / "indicators" / "violence_offences_rate.html")
    try:
        expected = dict(_query(published, """
            select area_code, value from fct_indicator_value
            where indicator_id = 'violence_offences_rate' and area_type = 'lad' and period_type = 'month'
              and period_start = (select max(period_start) from fct_indicator_value
                                  where indicator_id = 'violence_offences_rate' and period_type = 'month')"""))
        rows = page.locator("#values-table tbody tr")
        shown = {rows.nth(i).get_attribute("data-area"): rows.nth(i).locator("td.value").get_attribute("data-value")
                 for i in range(rows.count())}
        assert shown.keys() == expected.keys()
        for code, value in expected.items():
            assert _close(shown[code], value), code
        definition = _query(published, "select definition from dim_indicator where indicator_id = 'violence_offences_rate'")
        assert definition[0][0] in page.locator("dl.meta").inner_text()
        # the funnel note names how its published limits were found (exact Poisson lines for a rate)
        assert "exact Poisson limits" in page.locator("main").inner_text()
    finally:
        page.close()
    assert problems == []


def test_multi_agency_and_index_pages(browser, published, report):
    page, problems = _open(browser, report / "multi_agency.html")
    try:
        lsoas = {r[0] for r in _query(published, """select lsoa21_code from fct_multi_agency_lsoa_month
                                                     where month_start = (select max(month_start)
                                                                          from fct_multi_agency_lsoa_month)""")}
        rows = page.locator("#ma-table tbody tr")
        assert {rows.nth(i).get_attribute("data-lsoa") for i in range(rows.count())} == lsoas
    finally:
        page.close()
    page, more = _open(browser, report / "index.html")
    try:
        passed = all(r[0] for r in _query(published, """select success from check_result
            qualify row_number() over (partition by suite order by checked_at desc) = 1"""))
        assert page.locator("#dq-status").get_attribute("data-passed") == str(passed).lower()
        links = page.locator("a[href^='areas/'], a[href^='indicators/']")
        for i in range(links.count()):
            assert (report / links.nth(i).get_attribute("href")).exists()
    finally:
        page.close()
    assert problems == more == []


# OHID Fingertips' comparison colours, as the browser computes a cell's background
RGB = {"better": "rgb(146, 208, 80)", "similar": "rgb(255, 192, 0)", "worse": "rgb(192, 0, 0)",
       "higher": "rgb(190, 210, 255)", "lower": "rgb(85, 85, 230)", "not compared": "rgb(201, 201, 201)"}
HEADLINE = ("rolling_12_months", "calendar_year", "financial_year", "academic_year", "quarter", "month")


def _rug_expected(db: Path, level: str) -> dict[tuple[str, str], tuple[float | None, str]]:
    """Each indicator's values at one level in the level's latest period of its headline period type
    (the first of HEADLINE it has above MSOA)."""
    return {(r[0], r[1]): (r[2], r[3]) for r in _query(db, f"""
        with headline as (
            select indicator_id, arg_min(period_type, list_position({list(HEADLINE)}, period_type)) period_type
            from fct_indicator_value where area_type not in ('lsoa', 'msoa') group by 1),
        v as (select v.* from fct_indicator_value v join headline using (indicator_id, period_type)
              where v.area_type = ?
              qualify period_start = max(period_start) over (partition by indicator_id))
        select indicator_id, area_code, value, comparison from v""", [level])}


def test_tartan_rug_cells_are_the_marts_values_coloured_by_their_comparison(browser, published, report, tmp_path):
    rugs = sorted(report.glob("rug-*.html"))
    levels = {r[0] for r in _query(published, """select distinct area_type from fct_indicator_value
                                                  where area_type in ('region', 'pfa', 'utla', 'lad')""")}
    assert {p.stem.removeprefix("rug-") for p in rugs} == levels and "lad" in levels
    for path in rugs:
        level = path.stem.removeprefix("rug-")
        expected = _rug_expected(published, level)
        page, problems = _open(browser, path)
        try:
            cells = page.evaluate("""() => [...document.querySelectorAll('#rug tbody tr')].flatMap(tr =>
                [...tr.querySelectorAll('td.value')].map(td => [tr.dataset.indicator, td.dataset.area,
                 td.dataset.value, td.dataset.comparison, getComputedStyle(td).backgroundColor]))""")
            if level == "lad":
                png = page.locator("#rug").screenshot(path=str(tmp_path / "rug.png"))
        finally:
            page.close()
        assert problems == []
        filled = {(i, a): (v, c, bg) for i, a, v, c, bg in cells if c}
        assert filled.keys() == expected.keys(), level
        for key, (value, comparison) in expected.items():
            shown, shown_comparison, background = filled[key]
            assert _close(shown, value), (level, key)
            assert shown_comparison == comparison and background == RGB[comparison], (level, key, background)
        # every empty cell is an area without a value of that indicator at that level
        assert all((i, a) not in expected for i, a, _, c, _ in cells if not c)
    assert _colours(browser, png) > 3


def test_area_page_trends_are_the_marts_series(browser, published, report, tmp_path):
    page, problems = _open(browser, report / "areas" / f"lad-{READING_LAD}.html")
    try:
        plotted = page.evaluate("""() => document.getElementById('area-trends').data
            .filter(t => t.mode === 'lines+markers').map(t => [t.name, t.y])""")
        png = page.locator("#area-trends").screenshot(path=str(tmp_path / "trends.png"))
    finally:
        page.close()
    assert problems == []
    # the series with the most periods per indicator (above MSOA), this district's values oldest first
    expected = {}
    for name, values in _query(published, """
            with counts as (select indicator_id, period_type, count(distinct period_start) n from fct_indicator_value
                            where area_type not in ('lsoa', 'msoa')
                              and period_type in ('month', 'quarter', 'academic_year', 'financial_year', 'calendar_year')
                            group by all),
                 best as (select indicator_id, arg_max(period_type, [n, -list_position(
                              ['month', 'quarter', 'academic_year', 'financial_year', 'calendar_year'], period_type)])
                              period_type from counts group by 1)
            select i.indicator_name, list(v.value order by v.period_start)
            from fct_indicator_value v join best using (indicator_id, period_type)
            join dim_indicator i using (indicator_id)
            where v.area_code = ? and v.area_type = 'lad' group by 1""", [READING_LAD]):
        expected[name] = values
    assert {name for name, _ in plotted} == expected.keys() and expected
    for name, ys in plotted:
        assert len(ys) == len(expected[name]), name
        for y, value in zip(ys, expected[name], strict=True):
            assert (y is None and value is None) or math.isclose(y, value, rel_tol=1e-5), name
    assert _colours(browser, png) > 10


def test_lsoa_map_has_one_shape_per_lsoa_with_its_value(browser, published, report, tmp_path):
    boundaries = dict(_query(published, "select lsoa21_code, lad_code from fct_lsoa_boundary"))
    assert set(boundaries) == set(MINI_CENTROIDS)           # every delivered polygon is published
    page, problems = _open(browser, report / "maps.html")
    try:
        assert page.locator("#maps-status").get_attribute("data-loaded") == "true"
    finally:
        page.close()
    assert problems == []
    path = report / "maps" / f"lad-{READING_LAD}.html"
    page, problems = _open(browser, path)
    try:
        indicator = page.locator("#map-wrap").get_attribute("data-indicator")
        traces = page.evaluate("""() => document.getElementById('map-chart').data.map(t =>
            [t.meta.lsoa, t.meta.values[0], t.fillcolor, t.fill, t.x.filter(x => x === null).length])""")
        png = page.locator("#map-chart").screenshot(path=str(tmp_path / "map.png"))
        # the indicator picker (the map's dropdown, as a click applies it): each indicator colours
        # exactly the LSOAs with a value of its own
        switched = page.evaluate("""async () => {
            const gd = document.getElementById('map-chart'); const out = [];
            const buttons = (gd.layout.updatemenus || [{buttons: []}])[0].buttons;
            for (const [k, b] of buttons.entries()) {
                await Plotly.update(gd, ...b.args);
                out.push(gd.data.every(t => (t.fillcolor !== '#d9d9d9') === (t.meta.values[k] !== null))); }
            return out; }""")
    finally:
        page.close()
    assert problems == []                                     # no request failed: no base map fetched
    # the headline LSOA period of the indicator shown first: its latest period with an LSOA value
    expected = dict(_query(published, f"""
        with p as (select period_type, max(period_start) period_start from fct_indicator_value
                   where indicator_id = ? and area_type = 'lsoa' and value is not null group by 1
                   order by list_position({list(HEADLINE)}, period_type) limit 1)
        select v.area_code, v.value from fct_indicator_value v join p using (period_type, period_start)
        join fct_lsoa_boundary b on b.lsoa21_code = v.area_code
        where v.indicator_id = ? and v.area_type = 'lsoa' and b.lad_code = ? and v.value is not null""",
        [indicator, indicator, READING_LAD]))
    assert expected
    # one filled shape per LSOA of the district with a boundary; those with a value carry it, in colour
    assert sorted(t[0] for t in traces) == sorted(c for c, lad in boundaries.items() if lad == READING_LAD)
    assert all(t[3] == "toself" for t in traces)
    with_value = {t[0]: t[1] for t in traces if t[1] is not None}
    assert with_value.keys() == expected.keys()
    for code, value in expected.items():
        assert math.isclose(with_value[code], value, rel_tol=1e-12), code
    assert all((t[2] != "#d9d9d9") == (t[1] is not None) for t in traces)
    assert len(switched) >= 2 and all(switched), switched
    multi = next(t for t in traces if t[0] == MINI_LSOAS[0][0])
    assert multi[4] == 2                                      # outer ring, hole, second part
    assert _colours(browser, png) > 3
    assert (report / "areas" / f"lad-{READING_LAD}.html").read_text().count(f"maps/lad-{READING_LAD}.html") == 1


def test_maps_page_says_so_when_no_boundaries_are_loaded(published, tmp_path):
    from ingestion.report import write_report

    copy = tmp_path / "vru.duckdb"
    shutil.copy(published, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("delete from fct_lsoa_boundary")
    out = write_report(copy, tmp_path / "report").parent
    text = (out / "maps.html").read_text()
    assert 'data-loaded="false"' in text and "No LSOA boundaries are loaded" in text
    assert not list((out / "maps").iterdir())


def test_indicator_page_shows_inequality_by_deprivation_from_the_marts(browser, published, tmp_path):
    """The fixture has one month and no IMD, so no inequality: rows planted in a copy of the
    published file (a force's ten deciles, its SII and RII, a district withheld) are what the
    indicator page shows, read back from the page in Chromium."""
    from ingestion.report import write_report

    copy = tmp_path / "vru.duckdb"
    shutil.copy(published, copy)
    key = "'violence_offences_rate', 'E23000029', 'pfa', 'financial_year', DATE '2024-04-01', DATE '2025-03-31'"
    with duckdb.connect(str(copy)) as con:
        for q in range(1, 11):
            con.execute(f"""insert into fct_indicator_imd_quantile by name select {q} as quantile, 'decile' as quantile_type,
                               * from (select {key}) as k(indicator_id, area_code, area_type, period_type,
                               period_start, period_end),
                            (select 3 as lsoas, {40 - 3 * q} as numerator, 10000.0 as denominator, 0.1 as denominator_share,
                                    {(q - 0.5) / 10} as cumulative_share_midpoint, {(40 - 3 * q) / 10} as value,
                                    {(40 - 3 * q) / 10 - 1} as lower_ci_95, {(40 - 3 * q) / 10 + 1} as upper_ci_95,
                                    false as is_suppressed, null as suppression_reason)""")
        for quantile_type, area_code, area_type, sii, note in [
                ("decile", "E23000029", "pfa", -2.7, None), ("quintile", "E23000029", "pfa", -2.6, None),
                ("quintile", READING_LAD, "lad", None, "not calculated: a quantile's value is withheld (x)")]:
            con.execute("""insert into fct_indicator_inequality by name
                           select 'violence_offences_rate' as indicator_id, ? as area_code, ? as area_type,
                                  'financial_year' as period_type, DATE '2024-04-01' as period_start,
                                  DATE '2025-03-31' as period_end, ? as quantile_type, 5 as quantiles,
                                  ? is null as is_suppressed, ? as sii, ? - 0.5 as sii_lower_95, ? + 0.5 as sii_upper_95,
                                  1.8 as rii, 1.5 as rii_lower_95, 2.2 as rii_upper_95, 3.835 as intercept,
                                  'SII: normal; RII: Fieller' as ci_method, ? as note""",
                        [area_code, area_type, quantile_type, sii, sii, sii, sii, note])
    out = write_report(copy, tmp_path / "report").parent
    page, problems = _open(browser, out / "indicators" / "violence_offences_rate.html")
    try:
        table = page.locator("#inequality-table tbody tr")
        got = {table.nth(i).get_attribute("data-area"): [c.strip() for c in table.nth(i).locator("td").all_inner_texts()]
               for i in range(table.count())}
        assert got["E23000029"][1:5] == ["-2.60", "-3.10 to -2.10", "1.80", "1.50 to 2.20"]
        assert got[READING_LAD][1] == "–" and "withheld" in got[READING_LAD][5]
        assert page.locator("#deprivation-chart .main-svg").count() > 0     # drawn by Plotly
        assert "SII: normal; RII: Fieller" in page.locator("main").inner_text()
    finally:
        page.close()
    assert problems == []


def test_funnel_chart_draws_the_published_limits():
    """The chart's lines are the limits published beside each value, in order of precision (a DSR
    at the denominator its count and rate imply), never limits worked out again in Python."""
    from ingestion.report.charts import funnel

    def traces(html: str) -> dict[str, dict]:
        data, _, _ = json.loads(html.split('", ...', 1)[1].rsplit(");</script>", 1)[0])
        return {t["name"]: t for t in data}

    rows = [{"area_name": name, "value": value, "numerator": count, "denominator": n, "comparison": "similar",
             "funnel_lower_95": lo, "funnel_upper_95": hi, "funnel_lower_998": lo and lo / 2,
             "funnel_upper_998": hi and hi * 2, "funnel_significance": "Not significant"}
            for name, value, count, n, lo, hi in [("B", 5.0, 20, 4000, 3.0, 7.5), ("A", 8.0, 12, 1500, 2.0, 9.0),
                                                  ("hidden", None, 4, 900, None, None)]]
    got = traces(funnel(rows, 5.2, "crude_rate", 1000, "Force", "per 1,000", "f"))
    assert got["lower 95% limit"]["x"] == [1500, 4000] and got["lower 95% limit"]["y"] == [2.0, 3.0]
    assert got["upper 99.8% limit"]["y"] == [18.0, 15.0] and got["areas"]["y"] == [8.0, 5.0]
    # a DSR stands at 100,000 × count / rate: A at 150,000, B at 400,000
    assert traces(funnel(rows, 5.2, "dsr", 100000, "Force", "per 100,000", "f"))["areas"]["x"] == [150000, 400000]


def test_report_is_replaced_whole_and_refuses_a_foreign_folder(published, tmp_path):
    from ingestion.report import ReportError, write_report

    out = tmp_path / "report"
    write_report(published, out)
    (out / "areas" / "stale.html").write_text("old")
    write_report(published, out)
    assert not (out / "areas" / "stale.html").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ReportError):
        write_report(published, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_writing_the_report_logs_its_start_and_end_with_every_page(published, tmp_path, caplog):
    """In a DAG's task log: one line as the pages begin, one as they are done, with the count of
    pages written (counted here from the folder) and never a line per page."""
    import logging

    from ingestion import progress
    from ingestion.report import write_report

    caplog.set_level(logging.INFO, logger=progress.LOG.name)
    index = write_report(published, tmp_path / "report", reporter=progress.Reporter(every=3600))
    pages = sum(1 for _ in index.parent.rglob("*.html"))
    lines = [r.getMessage() for r in caplog.records if r.name == progress.LOG.name]
    assert len(lines) == 2, lines
    assert lines[0] == f"report: started ({pages} pages)"
    assert lines[1].startswith(f"report: done, {pages}/{pages} pages"), lines


def test_cli_writes_the_report_beside_the_published_file(published, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ingestion.cli import app

    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(published.parent.parent))
    done = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "site")], terminal_width=200)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "site" / "index.html").exists() and "index.html" in done.output
    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(tmp_path / "nothing"))
    done = CliRunner().invoke(app, ["report"], terminal_width=200)
    assert done.exit_code == 1 and "vru publish" in done.output


def test_multi_agency_rows_escape_names_and_notes():
    """The panel's rows are written without Jinja's autoescape: a name or note is still escaped."""
    from ingestion.report.render import _multi_agency_rows

    row = {"lsoa21_code": "E01000001", "lsoa_name": 'Tom & "Jerry" <b>',
           "police_violence_count": 1234.0, "police_violence_rate": 0.5, "police_violence_note": None,
           "ae_assault_residence_count": None, "ae_assault_residence_rate": None,
           "ae_assault_residence_note": "<script>alert(1)</script>",
           "ae_assault_place_count": 5.0, "ae_assault_place_rate": 12.25, "ae_assault_place_note": "not delivered"}
    html = str(_multi_agency_rows([row]))
    assert html == (
        '<tr data-lsoa="E01000001"><td>Tom &amp; &#34;Jerry&#34; &lt;b&gt; <span class="muted">E01000001</span></td>'
        '<td class="num">1,234.0</td><td class="num">0.5</td><td class="note"></td>'
        '<td class="num"></td><td class="num"></td><td class="note">&lt;script&gt;alert(1)&lt;/script&gt;</td>'
        '<td class="num">5.00</td><td class="num">12.25</td><td class="note">not delivered</td></tr>\n')
