# ruff: noqa: E501 (HTML template lines)
"""Jinja2 templates of the report's pages (kept in Python so they ship with any install of the package)."""

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · VRU indicator report</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ root }}assets/report.css">
{% if charts %}<script src="{{ root }}assets/plotly.min.js"></script>{% endif %}
</head><body>
<header><a href="{{ root }}index.html">VRU indicator report</a> ·
<a href="{{ root }}index.html#areas">Areas</a> · <a href="{{ root }}index.html#indicators">Indicators</a> · <a href="{{ root }}index.html#rugs">Tartan rugs</a> · <a href="{{ root }}maps.html">LSOA maps</a> ·
<a href="{{ root }}multi_agency.html">Multi-agency LSOA panel</a> · <a href="{{ root }}methods.html">Methods</a></header>
<main>
<h1>{{ title }}</h1>
{% block body %}{% endblock %}
</main>
<footer>Written {{ generated }} from <code>{{ source }}</code>. Read-only; no external resources.</footer>
</body></html>
"""

LEGEND = """<p class="legend">Compared with the comparator by 95% confidence interval:
{% for name, c in colours.items() %}<span class="key" style="background:{{ c }}"></span>{{ name }} {% endfor %}
— <em>better/similar/worse</em> read through the indicator's polarity, <em>higher/lower</em> where it has none,
grey when not compared (suppressed, no comparator, or no interval). <a href="{{ root }}methods.html">Methods</a>.</p>"""

INDEX = """{% extends "base" %}{% block body %}
<p>A static, Fingertips-style report of the serious-violence indicators in the published warehouse
(<code>{{ source }}</code>): every indicator's latest value for the force, its region and England and its local
authorities, compared by confidence interval, with the trend, a funnel plot and the police and A&amp;E LSOA panel.
It opens offline: every script is in <code>assets/</code>.</p>
<h2>Data quality</h2>
{% if checks %}
<p id="dq-status" class="{{ 'pass' if dq_passed else 'fail' }}" data-passed="{{ dq_passed|lower }}">
Latest checks: <strong>{{ 'all passed' if dq_passed else 'FAILED' }}</strong>, last run {{ dq_when }}.</p>
<table><thead><tr><th>Suite</th><th>Checked at</th><th>Result</th><th>Rows checked</th></tr></thead><tbody>
{% for c in checks %}<tr><td>{{ c.suite }}</td><td>{{ c.checked_at }}</td>
<td class="{{ 'pass' if c.success else 'fail' }}">{{ 'passed' if c.success else 'failed' }}</td>
<td class="num">{{ c.rows_checked if c.rows_checked is not none else '' }}</td></tr>{% endfor %}
</tbody></table>
{% else %}<p id="dq-status" data-passed="unknown">No data-quality checks are recorded in this file.</p>{% endif %}
<h2>Coverage</h2>
<p>Reporting units per source and delivery status (a unit that did <em>not deliver</em> for a period leaves
its values missing, not zero; <em>withheld</em> means the source held the figure back).</p>
<table><thead><tr><th>Source</th><th>Status</th><th>Unit-periods</th><th>First period</th><th>Last period</th></tr></thead>
<tbody>{% for c in coverage %}<tr><td>{{ c.source }}</td><td>{{ c.delivery_status }}</td>
<td class="num">{{ c.reporting_periods }}</td><td>{{ c.first_period }}</td><td>{{ c.last_period }}</td></tr>{% endfor %}
</tbody></table>
<h2 id="rugs">Tartan rugs</h2>
{% if rugs %}<p>Every indicator against every area of a level, coloured by the comparison with each area's comparator:</p>
<ul>{% for r in rugs %}<li><a href="{{ r.href }}">{{ r.level_name }}s</a> <span class="muted">{{ r.columns|length }} areas, {{ r.rows|length }} indicators</span></li>{% endfor %}</ul>
{% else %}<p>No values at region, force or local-authority level yet.</p>{% endif %}
<h2 id="areas">Areas</h2>
<ul>{% for a in areas %}<li><a href="{{ a.href }}">{{ a.area_name }}</a> <span class="muted">{{ a.level }} {{ a.area_code }}</span></li>{% endfor %}</ul>
<h2 id="indicators">Indicators</h2>
<ul>{% for i in indicators %}<li><a href="{{ i.href }}">{{ i.indicator_name }}</a> <span class="muted">{{ i.indicator_id }}</span></li>{% endfor %}</ul>
{% endblock %}"""

AREA = """{% extends "base" %}{% block body %}
<p>{{ level }} <code>{{ area.area_code }}</code>. Each indicator's latest value against its comparator.
{% if map_href %}<a id="map-link" href="{{ root }}{{ map_href }}">LSOA map of the district</a>.{% endif %}</p>
""" + LEGEND + """
<table id="spine-table"><thead><tr><th>Indicator</th><th>Period</th><th>Count</th><th>Value</th><th>95% CI</th>
<th>Comparator</th><th>Comparator value</th><th>England</th><th>Compared</th><th>Note</th></tr></thead><tbody>
{% for r in rows %}<tr data-indicator="{{ r.indicator_id }}">
<td><a href="{{ root }}indicators/{{ r.indicator_id }}.html">{{ r.indicator_name }}</a></td><td>{{ r.period_label or '' }}</td>
<td class="num">{{ r.numerator_text }}</td>
<td class="num value c-{{ r.comparison|replace(' ', '-') }}" data-value="{{ r.value if r.value is not none else '' }}" style="background:{{ r.colour }}">{{ r.value_text }}</td>
<td class="num">{{ r.ci_text }}</td><td>{{ r.comparator_name or '' }}</td>
<td class="num" data-value="{{ r.comparator_value if r.comparator_value is not none else '' }}">{{ r.comparator_text }}</td>
<td class="num">{{ r.england_text }}</td><td class="comparison">{{ r.comparison }}</td><td class="note">{{ r.note }}</td></tr>
{% endfor %}</tbody></table>
<div class="chart" id="spine-wrap">{{ spine|safe }}</div>
<h2 id="trends">Trends</h2>
{% if trends %}<p>Each indicator over its latest periods (at most {{ trend_periods }}, in the period type with the
longest series), with its 95% confidence interval; markers coloured by the comparison in each period.</p>
<div class="chart" id="trends-wrap" data-trends="{{ trend_count }}">{{ trends|safe }}</div>
{% else %}<p>No trend for this area.</p>{% endif %}
{% if notes %}<h2>Value notes</h2><dl>{% for n, why in notes %}<dt>{{ n }}</dt><dd>{{ why }}</dd>{% endfor %}</dl>{% endif %}
{% endblock %}"""

INDICATOR = """{% extends "base" %}{% block body %}
<dl class="meta">
<dt>Definition</dt><dd>{{ ind.definition }}</dd>
<dt>Numerator</dt><dd>{{ ind.numerator_description }}</dd>
<dt>Denominator</dt><dd>{{ ind.denominator_description }}</dd>
<dt>Method</dt><dd id="method">{{ ind.method }}{% if ind.multiplier %} (per {{ '{:,}'.format(ind.multiplier) }}){% endif %}</dd>
<dt>Polarity</dt><dd>{{ ind.polarity }}</dd>
<dt>Source</dt><dd>{{ ind.source }}</dd>
<dt>Disclosure rule</dt><dd>{{ ind.disclosure_rule }} — {{ disclosure_text }}</dd>
</dl>
""" + LEGEND + """
<h2>{{ level_name }}s, {{ period_label }}</h2>
{% if bars %}<div class="chart" id="bars-wrap">{{ bars|safe }}</div>{% else %}<p>No values at this level.</p>{% endif %}
<table id="values-table"><thead><tr><th>Area</th><th>Count</th><th>Denominator</th><th>Value</th><th>95% CI</th><th>99.8% CI</th>
<th>Compared</th><th>Note</th></tr></thead><tbody>
{% for r in table %}<tr data-area="{{ r.area_code }}"><td>{{ r.area_name }}</td><td class="num">{{ r.numerator_text }}</td>
<td class="num">{{ r.denominator_text }}</td>
<td class="num value c-{{ r.comparison|replace(' ', '-') }}" data-value="{{ r.value if r.value is not none else '' }}" style="background:{{ r.colour }}">{{ r.value_text }}</td>
<td class="num">{{ r.ci_text }}</td><td class="num">{{ r.ci998_text }}</td><td>{{ r.comparison }}</td><td class="note">{{ r.note }}</td></tr>{% endfor %}
</tbody></table>
<h2>Funnel plot</h2>
{% if funnel %}<div class="chart" id="funnel-wrap">{{ funnel|safe }}</div>
<p class="muted">{{ funnel_note }}</p>{% else %}<p>{{ funnel_note }}</p>{% endif %}
<h2>Inequality by deprivation{% if inequality_period %}, {{ inequality_period }}{% endif %}</h2>
{% if deprivation %}<div class="chart" id="deprivation-wrap">{{ deprivation|safe }}</div>{% endif %}
{% if inequality %}<p class="muted">Slope (SII) and relative (RII) index of inequality across the IMD 2019 quintiles
inside each area (PHEindicatormethods' method; SII negative where the most deprived fare worse on a rate).
{{ inequality[0].ci_method }}.</p>
<table id="inequality-table"><thead><tr><th>Area</th><th>SII</th><th>95% CI</th><th>RII</th><th>95% CI</th><th>Note</th></tr></thead><tbody>
{% for r in inequality %}<tr data-area="{{ r.area_code }}"><td>{{ r.area_name }}</td><td class="num">{{ r.sii_text }}</td>
<td class="num">{{ r.sii_ci_text }}</td><td class="num">{{ r.rii_text }}</td><td class="num">{{ r.rii_ci_text }}</td>
<td class="note">{{ r.note }}</td></tr>{% endfor %}
</tbody></table>{% else %}<p>No inequality by deprivation for this indicator (it is not counted by LSOA, or no area
has a value in every quintile).</p>{% endif %}
<h2>Trend: {{ trend_area }}</h2>
{% if trend %}<div class="chart" id="trend-wrap">{{ trend|safe }}</div>{% else %}<p>No trend for the force.</p>{% endif %}
{% endblock %}"""

MULTI = """{% extends "base" %}{% block body %}
{% if month %}
<p>Police-recorded violence beside A&amp;E assault attendances per LSOA for <strong id="ma-month">{{ month }}</strong>
(the latest month in the panel). Rates and counts are as published: hidden or suppressed figures stay hidden,
with the reason in the note.</p>
<div class="chart" id="ma-wrap">{{ scatter|safe }}</div>
<table id="ma-table"><thead><tr><th>LSOA</th><th>Police violence</th><th>Rate</th><th>Note</th>
<th>A&amp;E assaults (residence)</th><th>Rate</th><th>Note</th><th>A&amp;E assaults (place)</th><th>Rate</th><th>Note</th></tr></thead><tbody>
{{ table_rows }}</tbody></table>
{% else %}<p>The multi-agency panel is empty in this file.</p>{% endif %}
{% endblock %}"""

RUG = """{% extends "base" %}{% block body %}
<p>Each indicator (row) for every {{ rug.level_name|lower }} (column) in the level's latest period of the
indicator's headline period type, coloured by the comparison with each area's own comparator; the number is
the value. Empty grey cells: suppressed or not published.</p>
""" + LEGEND + """
<div class="rug-wrap"><table id="rug" class="rug" data-level="{{ rug.level }}"><thead><tr><th>Indicator</th><th>Period</th>
{% for c in rug.columns %}<th class="area" data-area="{{ c.area_code }}"><a href="{{ root }}{{ c.href }}">{{ c.area_name }}</a></th>{% endfor %}</tr></thead><tbody>
{% for r in rug.rows %}<tr data-indicator="{{ r.indicator_id }}"><th><a href="{{ root }}indicators/{{ r.indicator_id }}.html">{{ r.indicator_name }}</a></th><td>{{ r.period_label }}</td>
{% for c in rug.columns %}{% set v = rug.cells.get((r.indicator_id, c.area_code)) %}{% if v %}<td class="num value c-{{ v.comparison|replace(' ', '-') }}" data-area="{{ c.area_code }}" data-comparison="{{ v.comparison }}" data-value="{{ v.value if v.value is not none else '' }}" style="background:{{ v.colour }}" title="{{ c.area_name }}: {{ v.comparison }}{{ '; ' + v.note if v.note else '' }}">{{ v.value_text }}</td>{% else %}<td class="num value c-none" data-area="{{ c.area_code }}" data-comparison="" data-value=""></td>{% endif %}{% endfor %}</tr>
{% endfor %}</tbody></table></div>
{% endblock %}"""

MAPS = """{% extends "base" %}{% block body %}
{% if not loaded %}<p id="maps-status" data-loaded="false">No LSOA boundaries are loaded in this file, so there are no
LSOA maps. Deliver the ONS LSOA 2021 boundaries (GeoJSON, WGS84) in the reference folder's <code>boundaries/</code>
(<code>vru download</code> fetches them) and publish again.</p>
{% elif not maps %}<p id="maps-status" data-loaded="true">LSOA boundaries are loaded, but no LSOA-level indicator has a
value in an LSOA with a boundary.</p>
{% else %}<p id="maps-status" data-loaded="true">One map per local authority district, its LSOAs coloured by the
indicator's value in five classes (quantiles of all LSOAs with a value), grey where there is no value
(suppressed or none). Pick the indicator above each map. Polygons are the ONS LSOA 2021 boundaries, simplified
for drawing (<code>fct_lsoa_boundary</code>); no base map, so nothing is fetched from the network.</p>
<table id="map-indicators"><thead><tr><th>Indicator</th><th>Period</th></tr></thead><tbody>
{% for i in indicators %}<tr><td>{{ i.indicator_name }}</td><td>{{ i.period_label }}</td></tr>{% endfor %}</tbody></table>
<ul id="map-list">{% for m in maps %}<li><a href="{{ m.href }}">{{ m.lad_name }}</a> <span class="muted">{{ m.lad_code }}, {{ m.shapes }} LSOAs</span></li>{% endfor %}</ul>
{% endif %}
{% endblock %}"""

MAP = """{% extends "base" %}{% block body %}
<p>LSOAs of <a href="{{ root }}areas/lad-{{ m.lad_code }}.html">{{ m.lad_name }}</a> ({{ m.shapes }} with a boundary),
coloured by the chosen indicator's value (quantile classes over all LSOAs with a value; grey: no value).
Indicators: {% for l in m.layers %}{{ l.title }}{{ '; ' if not loop.last }}{% endfor %}.
<a href="{{ root }}maps.html">All maps</a>.</p>
<div class="chart" id="map-wrap" data-lad="{{ m.lad_code }}" data-indicator="{{ m.layers[0].indicator_id }}">{{ m.map|safe }}</div>
{% endblock %}"""

METHODS = """{% extends "base" %}{% block body %}
<h2>Suppression and rounding</h2>
<ul>
<li><strong>Fingertips rule</strong> (police-recorded crime rates, disclosure rule <code>rate_count_below_10</code>):
no rate or confidence interval is published from fewer than 10 events; the value is shown empty with the note
“numerator below 10”.</li>
<li><strong>NHS small-number rule</strong> (A&amp;E, disclosure rule <code>nhs_small_numbers</code>): counts from 1 to 7,
and zeros, are hidden, and so is any count from which a hidden one could be worked out (secondary suppression);
the other counts are rounded to the nearest 5, and rates and their intervals are those of the published (rounded)
count, shown only from 10 published events.</li>
<li><strong>Source-published figures</strong> (DfE, disclosure rule <code>none</code>): values are shown as the source
publishes them; a figure the source withheld stays empty with the note “withheld by the source”.</li>
</ul>
<h2>Comparisons by confidence interval</h2>
<p>Each value carries a 95% and a 99.8% confidence interval (crude rates: Byar's method, exact Poisson for small
counts; proportions: Wilson score; directly standardised rates: Dobson's method, and no rate at all from fewer
than 10 events; indirectly standardised ratios and rates: as crude rates, on the count expected from the
reference area's age-specific rates), as PHEindicatormethods computes them. An area is <em>similar</em> to its
comparator when its 95% interval contains the comparator's value; otherwise it is <em>better</em> or <em>worse</em>
as the indicator's polarity reads it (for violence, lower is better), or <em>higher</em>/<em>lower</em> for an
indicator without a polarity. Suppressed values, and values without a comparator, are <em>not compared</em> (grey).</p>
<h2>Funnel plots</h2>
<p>The funnel plot places each area's value against its denominator, with control limits around the comparator's
value that narrow as the population grows. The limits are published beside each value
(<code>fct_indicator_value.funnel_lower_95</code> … <code>funnel_upper_998</code>), at that area's own
denominator: for proportions, the Wilson score inverted as PHEindicatormethods does; for rates and ratios, the
count whose exact Poisson limits reach the count expected at the comparator's value (for a directly standardised
rate, at the denominator its count and rate imply). <code>funnel_significance</code> says where each area falls,
in PHEindicatormethods' words. Points outside the 99.8% limits are unlikely to differ from the comparator by
chance alone.</p>
<h2>Coverage, “not delivered” and “withheld”</h2>
<p>A value is only as complete as its sources' deliveries: where a reporting unit (a police force, a hospital
trust) did not deliver data for a period, its values are <em>not delivered</em> — missing, never zero — and the
area's share of records placed in an area (<code>located_percent</code>) is shown where known. A figure
<em>withheld by the source</em> was held back by the publisher (for instance DfE's own suppression), not by this
platform.</p>
{% endblock %}"""

CSS = """body{font-family:Arial,Helvetica,sans-serif;margin:0;color:#222}
header{background:#0b0c0c;color:#fff;padding:10px 20px}header a{color:#fff}
main{padding:10px 20px;max-width:1200px}footer{padding:10px 20px;color:#666;font-size:12px}
table{border-collapse:collapse;margin:10px 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#eee}.num{text-align:right}.muted{color:#666;font-size:12px}.note{font-size:12px;color:#444;max-width:320px}
.pass{color:#006400}.fail{color:#b00020;font-weight:bold}.key{display:inline-block;width:14px;height:14px;
border:1px solid #333;margin:0 3px 0 8px;vertical-align:middle}.chart{margin:10px 0;min-height:300px}
td.c-worse,td.c-lower{color:#fff}
.rug-wrap{overflow-x:auto;max-width:100%}table.rug th.area{writing-mode:vertical-rl;transform:rotate(180deg);
white-space:nowrap;font-weight:normal;font-size:11px}table.rug td{white-space:nowrap;font-size:11px;min-width:34px}
table.rug td.c-none{background:#f4f4f4}table.rug tbody th{text-align:left;font-weight:normal}
dl.meta dt{font-weight:bold;margin-top:6px}dl.meta dd{margin-left:12px}
"""
