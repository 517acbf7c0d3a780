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


def latest_values(con, indicator_id: str, period_type: str, area_types: tuple[str, ...] | None = None) -> list[dict]:
    """Every area's value of one indicator in its latest period of that type, with names and labels."""
    where = ""
    params: list = [indicator_id, period_type]
    if area_types:
        where = "and v.area_type in (" + ", ".join("?" for _ in area_types) + ")"
        params += list(area_types)
    return rows(con, f"""
        with v as (select * from fct_indicator_value v where indicator_id = ? and period_type = ? {where}
                   and area_type not in ('lsoa', 'msoa')),
             latest as (select max(period_start) p from v)
        select v.*, coalesce(a.area_name, v.area_code) area_name, p.period_label
        from v join latest on v.period_start = latest.p
        left join (select distinct area_code, area_type, area_name from dim_area) a
               on a.area_code = v.area_code and a.area_type = v.area_type
        left join dim_period p on p.period_type = v.period_type and p.period_start = v.period_start
        order by v.value desc nulls last, area_name""", params)


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


def area_values(con, area_code: str, area_type: str, headline: dict[str, str]) -> dict[str, dict]:
    """The area's latest value of every indicator (each in its headline period type)."""
    out = {}
    for indicator_id, period_type in headline.items():
        found = rows(con, """select v.*, p.period_label from fct_indicator_value v
                             left join dim_period p on p.period_type = v.period_type and p.period_start = v.period_start
                             where indicator_id = ? and v.period_type = ? and area_code = ? and area_type = ?
                             order by v.period_start desc limit 1""", [indicator_id, period_type, area_code, area_type])
        if found:
            out[indicator_id] = found[0]
    return out


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
