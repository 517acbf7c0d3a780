"""Queries of the published file for the HTML report (one read-only connection, never the writer lock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

# the period types a headline figure prefers (longest complete aggregation first) and the area
# levels a report page is written for: the force and above, and its local authorities (never LSOA/MSOA)
HEADLINE_PERIODS = ("rolling_12_months", "calendar_year", "financial_year", "academic_year", "quarter", "month")
PAGE_LEVELS = ("country", "region", "pfa", "utla", "lad")
BAR_LEVELS = ("lad", "utla", "csp", "pfa")
RUG_LEVELS = ("region", "pfa", "utla", "lad")   # a tartan rug per level (areas as columns)
TREND_PERIODS = 36                              # an area page's trends show at most the latest 36 periods
COMPARATOR_ORDER = "['country', 'region', 'pfa', 'utla', 'lad', 'csp']"
LEVEL_NAMES = {"country": "Country", "region": "Region", "pfa": "Police force area", "utla": "Upper-tier local authority",
               "lad": "Local authority district", "csp": "Community safety partnership", "msoa": "MSOA", "lsoa": "LSOA"}


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@dataclass
class ReportData:
    indicators: list[dict]
    areas: list[dict]                       # areas given a page
    headline: dict[str, str] = field(default_factory=dict)   # indicator_id -> headline period type
    trend_period: dict[str, str] = field(default_factory=dict)
    checks: list[dict] = field(default_factory=list)
    coverage: list[dict] = field(default_factory=list)
    area_names: dict[str, str] = field(default_factory=dict)


def connect(published_db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(published_db), read_only=True)


def load(con: duckdb.DuckDBPyConnection) -> ReportData:
    indicators = rows(con, "select * from dim_indicator order by indicator_id")
    levels = ", ".join(f"'{lvl}'" for lvl in PAGE_LEVELS)
    areas = rows(con, f"""
        select distinct a.area_code, a.area_name, a.area_type from dim_area a
        where a.area_type in ({levels})
          and exists (select 1 from fct_indicator_value v where v.area_code = a.area_code and v.area_type = a.area_type)
        order by list_position([{levels}], a.area_type), a.area_name, a.area_code""")
    data = ReportData(indicators=indicators, areas=areas)
    data.area_names = {r["area_code"]: r["area_name"] for r in rows(con, "select area_code, any_value(area_name) area_name "
                                                                        "from dim_area group by 1")}
    present = rows(con, """select indicator_id, period_type, count(distinct period_start) n from fct_indicator_value
                           where area_type not in ('lsoa', 'msoa') group by all""")
    for ind in indicators:
        mine = {r["period_type"]: r["n"] for r in present if r["indicator_id"] == ind["indicator_id"]}
        for pt in HEADLINE_PERIODS:
            if pt in mine:
                data.headline[ind["indicator_id"]] = pt
                break
        trend = [pt for pt in ("month", "quarter", "academic_year", "financial_year", "calendar_year") if pt in mine]
        if trend:
            data.trend_period[ind["indicator_id"]] = max(trend, key=lambda pt: mine[pt])
    data.checks = rows(con, """select suite, checked_at, success, rows_checked, failures from check_result
                               qualify row_number() over (partition by suite order by checked_at desc) = 1
                               order by suite""")
    data.coverage = rows(con, """select source, delivery_status, count(*) reporting_periods,
                                        min(period_start) first_period, max(period_start) last_period
                                 from fct_source_coverage group by all order by all""")
    return data


def _pairs(mapping: dict[str, str]) -> tuple[str, list]:
    """A VALUES list (indicator_id, period_type) and its parameters, for joining in one query."""
    if not mapping:
        return "(select null::varchar indicator_id, null::varchar period_type where false)", []
    sql = "(values " + ", ".join("(?, ?)" for _ in mapping) + ") t(indicator_id, period_type)"
    return sql, [x for pair in mapping.items() for x in pair]


def headline_values(con, headline: dict[str, str]) -> list[dict]:
    """In one query: every area's (country to district) latest value of every indicator in its headline
    period type, with the period label, the comparator's and England's values at the same period."""
    pairs, params = _pairs(headline)
    levels = ", ".join(f"'{lvl}'" for lvl in PAGE_LEVELS)
    return rows(con, f"""
        with at_period as (
            select v.indicator_id, v.period_type, v.period_start, v.area_code, v.value,
                   coalesce(a.area_name, v.area_code) area_name
            from fct_indicator_value v join {pairs} using (indicator_id, period_type)
            left join (select area_code, any_value(area_name) area_name from dim_area group by 1) a
                   on a.area_code = v.area_code
            where v.area_type not in ('lsoa', 'msoa')
            qualify row_number() over (partition by v.indicator_id, v.period_start, v.area_code
                                       order by list_position({COMPARATOR_ORDER}, v.area_type)) = 1),
        latest as (
            select v.* from fct_indicator_value v join {pairs} using (indicator_id, period_type)
            where v.area_type in ({levels})
            qualify row_number() over (partition by v.indicator_id, v.area_type, v.area_code
                                       order by v.period_start desc) = 1)
        select l.*, p.period_label, c.area_name comparator_name, c.value comparator_value, e.value england_value,
               e.area_code is not null england_found
        from latest l
        left join dim_period p on p.period_type = l.period_type and p.period_start = l.period_start
        left join at_period c on c.indicator_id = l.indicator_id and c.period_start = l.period_start
                              and c.area_code = l.comparator_area_code
        left join at_period e on e.indicator_id = l.indicator_id and e.period_start = l.period_start
                              and e.area_code = 'E92000001'""", params + params)


def level_latest_values(con, headline: dict[str, str]) -> list[dict]:
    """In one query: each indicator's values in its headline period type at every area level above
    MSOA, in the level's latest period, with names and labels, ordered by value (highest first)."""
    pairs, params = _pairs(headline)
    return rows(con, f"""
        with v as (select v.* from fct_indicator_value v join {pairs} using (indicator_id, period_type)
                   where v.area_type not in ('lsoa', 'msoa')
                   qualify v.period_start = max(v.period_start) over (partition by v.indicator_id, v.area_type))
        select v.*, coalesce(a.area_name, v.area_code) area_name, p.period_label
        from v
        left join (select distinct area_code, area_type, area_name from dim_area) a
               on a.area_code = v.area_code and a.area_type = v.area_type
        left join dim_period p on p.period_type = v.period_type and p.period_start = v.period_start
        order by v.indicator_id, v.area_type, v.value desc nulls last, area_name""", params)


def area_trends(con, trend_period: dict[str, str], periods: int = TREND_PERIODS) -> list[dict]:
    """In one query: every page area's values of every indicator in its trend period type, over the
    indicator's latest `periods` periods, oldest first."""
    pairs, params = _pairs(trend_period)
    levels = ", ".join(f"'{lvl}'" for lvl in PAGE_LEVELS)
    return rows(con, f"""
        with v as (select v.indicator_id, v.area_type, v.area_code, v.period_type, v.period_start, v.value,
                          v.lower_ci_95, v.upper_ci_95, v.comparison,
                          dense_rank() over (partition by v.indicator_id order by v.period_start desc) k
                   from fct_indicator_value v join {pairs} using (indicator_id, period_type)
                   where v.area_type in ({levels}))
        select v.* exclude (k), coalesce(p.period_label, cast(v.period_start as varchar)) period_label
        from v left join dim_period p on p.period_type = v.period_type and p.period_start = v.period_start
        where k <= ?
        order by v.area_type, v.area_code, v.indicator_id, v.period_start""", [*params, periods])


def value_at(con, indicator_id: str, period_type: str, period_start, area_code: str | None) -> dict | None:
    if area_code is None:
        return None
    found = rows(con, """select v.*, coalesce(a.area_name, v.area_code) area_name from fct_indicator_value v
                         left join (select area_code, any_value(area_name) area_name from dim_area group by 1) a
                                on a.area_code = v.area_code
                         where indicator_id = ? and v.period_type = ? and v.period_start = ? and v.area_code = ?
                         order by list_position(['country', 'region', 'pfa', 'utla', 'lad', 'csp'], v.area_type)
                         limit 1""", [indicator_id, period_type, period_start, area_code])
    return found[0] if found else None


def trend(con, indicator_id: str, period_type: str, area_type: str = "pfa") -> list[dict]:
    return rows(con, """select v.*, coalesce(p.period_label, cast(v.period_start as varchar)) period_label,
                               coalesce(a.area_name, v.area_code) area_name
                        from fct_indicator_value v
                        left join dim_period p on p.period_type = v.period_type and p.period_start = v.period_start
                        left join (select area_code, any_value(area_name) area_name from dim_area group by 1) a
                               on a.area_code = v.area_code
                        where indicator_id = ? and v.period_type = ? and v.area_type = ?
                        order by v.area_code, v.period_start""", [indicator_id, period_type, area_type])


def multi_agency(con) -> tuple[object, list[dict]]:
    latest = con.execute("select max(month_start) from fct_multi_agency_lsoa_month").fetchone()[0]
    if latest is None:
        return None, []
    return latest, rows(con, """
        select m.*, coalesce(a.area_name, m.lsoa21_code) lsoa_name
        from fct_multi_agency_lsoa_month m
        left join (select area_code, any_value(area_name) area_name from dim_area where area_type = 'lsoa' group by 1) a
               on a.area_code = m.lsoa21_code
        where month_start = ?
        order by m.police_violence_count desc nulls last, m.ae_assault_residence_count desc nulls last, m.lsoa21_code""",
        [latest])


def has_table(con, name: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_name = ?", [name]).fetchone()[0])


def lsoa_map_data(con) -> tuple[bool, list[dict], list[dict], list[dict]]:
    """For the LSOA maps: whether boundaries are loaded (fct_lsoa_boundary has rows); each indicator
    with LSOA values (its period type: the first of HEADLINE_PERIODS with an LSOA value; its latest
    period of that type with one); every boundary (code, name, district, force, GeoJSON); and every
    LSOA value of those indicators in those periods, all in a few queries."""
    if not has_table(con, "fct_lsoa_boundary") or not con.execute("select count(*) from fct_lsoa_boundary").fetchone()[0]:
        return False, [], [], []
    order = "[" + ", ".join(f"'{p}'" for p in HEADLINE_PERIODS) + "]"
    indicators = rows(con, f"""
        with present as (select indicator_id, period_type, max(period_start) period_start from fct_indicator_value
                         where area_type = 'lsoa' and value is not null group by all)
        select p.indicator_id, i.indicator_name, p.period_type, p.period_start,
               coalesce(d.period_label, cast(p.period_start as varchar)) period_label
        from present p join dim_indicator i using (indicator_id)
        left join dim_period d on d.period_type = p.period_type and d.period_start = p.period_start
        qualify row_number() over (partition by p.indicator_id order by list_position({order}, p.period_type)) = 1
        order by p.indicator_id""")
    boundaries = rows(con, """select lsoa21_code, coalesce(lsoa21_name, lsoa21_code) lsoa21_name, lad_code, pfa_code,
                                     geometry_geojson from fct_lsoa_boundary where lad_code is not null
                              order by lad_code, lsoa21_code""")
    chosen = [(i["indicator_id"], i["period_type"], i["period_start"]) for i in indicators]
    values: list[dict] = []
    if chosen:
        pairs = "(values " + ", ".join("(?, ?, ?::date)" for _ in chosen) + ") t(indicator_id, period_type, period_start)"
        values = rows(con, f"""select v.indicator_id, v.area_code, v.value, v.numerator, v.suppression_reason
                               from fct_indicator_value v join {pairs} using (indicator_id, period_type, period_start)
                               where v.area_type = 'lsoa'""", [x for c in chosen for x in c])
    return True, indicators, boundaries, values


def inequality(con, indicator_id: str) -> tuple[list[dict], list[dict]]:
    """The indicator's inequality by deprivation in its latest period that has any: the SII and
    RII of every area (fct_indicator_inequality, quintiles: more areas have all five), and the
    force areas' decile values with their CIs (fct_indicator_imd_quantile) for the chart. The
    marts may be absent from an older published file: then there is nothing to show."""
    tables = {r["table_name"] for r in rows(con, "select table_name from information_schema.tables")}
    if not {"fct_indicator_inequality", "fct_indicator_imd_quantile"} <= tables:
        return [], []
    latest = rows(con, """select period_type, period_start from fct_indicator_inequality where indicator_id = ?
                          order by period_start desc, period_type limit 1""", [indicator_id])
    if not latest:
        return [], []
    params = [indicator_id, latest[0]["period_type"], latest[0]["period_start"]]
    summary = rows(con, """
        select i.*, coalesce(a.area_name, i.area_code) area_name, coalesce(p.period_label, cast(i.period_start as varchar))
               period_label
        from fct_indicator_inequality i
        left join (select area_code, any_value(area_name) area_name from dim_area group by 1) a using (area_code)
        left join dim_period p using (period_type, period_start)
        where i.indicator_id = ? and i.period_type = ? and i.period_start = ? and i.quantile_type = 'quintile'
        order by list_position(['country', 'region', 'pfa', 'utla', 'lad', 'csp'], i.area_type), area_name""", params)
    deciles = rows(con, """
        select q.*, coalesce(a.area_name, q.area_code) area_name
        from fct_indicator_imd_quantile q
        left join (select area_code, any_value(area_name) area_name from dim_area group by 1) a using (area_code)
        where q.indicator_id = ? and q.period_type = ? and q.period_start = ? and q.quantile_type = 'decile'
          and q.area_type = 'pfa'
        order by q.area_code, q.quantile""", params)
    return summary, deciles
