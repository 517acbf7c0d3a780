"""A new source is its declaration: a toy source published by local authority and academic year
(like DfE exclusions) is added with a SourceSpec, a staging model, a numerator model and a
catalogue entry, with no edit to the engine's SQL or the pipeline's code. Its indicator appears
at local authority and the levels above that the fixture covers, never below, with values worked
out by hand; a delivery of it rebuilds only its own refresh scope."""

from __future__ import annotations

import math
import shutil

import duckdb
import pytest
import yaml

from conftest import write_mini_reference
from test_police_street_load import VIOLENCE, write_street

READING, SLOUGH = "E06000038", "E06000039"        # unitary: district and upper tier under one code
READING_CSP, PFA = "E22000309", "E23000029"


def toy_source():
    from ingestion.load import Column, Rule, SourceSpec

    return SourceSpec(
        name="toy_la_events",
        raw_table="raw.toy_la_events",
        description="a toy count published by local authority and academic year (time_period 202324)",
        file_pattern=r"toy-la-events-(?P<year>\d{6})\.csv",
        refresh="by_period", area_level="lad", period_type="academic_year", period_sql="period_start",
        gx_suite="raw_toy_la_events",
        columns=(
            Column("time_period", "time_period", stored=False),
            Column(None, "period_start", "DATE", not_null=True),
            Column("new_la_code", "lad_code", area_level="lad", not_null=True),
            Column("events", "events", "INTEGER", between=(0, None)),
        ),
        rules=(Rule("time_period_format", r"regexp_full_match(time_period, '\d{6}')", "time_period is like 202324"),),
        unique_key=("lad_code",),
        select_sql=lambda spec, attrs, staged: """
            SELECT make_date(CAST(left(time_period, 4) AS INTEGER), 9, 1) AS period_start,
                   trim(lad_code) AS lad_code, CAST(events AS INTEGER) AS events, _row_number, _file_index
            FROM _staged""",
    )


TOY_MODELS = {
    "staging/toy/_toy__sources.yml": """version: 2
sources:
  - name: toy
    schema: raw
    tables:
      - name: toy_la_events
""",
    "staging/toy/stg_toy__la_events.sql": """
select lad_code, period_start, events
from {{ source('toy', 'toy_la_events') }}
where _load_id in {{ accepted_load_ids('toy_la_events') }}
""",
    "intermediate/int_toy__la_events.sql": """
select lad_code, period_start, sum(events) as events from {{ ref('stg_toy__la_events') }} group by all
""",
}
TOY_INDICATOR = {
    "id": "toy_event_rate", "name": "Toy events per 1,000", "definition": "A toy count per 1,000 residents.",
    "numerator": {"model": "int_toy__la_events", "measure": "events", "area_level": "lad",
                  "period_type": "academic_year", "description": "toy events"},
    "denominator": {"population": "population_all_ages", "description": "residents"},
    "multiplier": 1000, "method": "crude_rate", "polarity": "lower_is_better",
    "disclosure": "rate_count_below_10", "source": "toy",
    "area_types": ["lad", "utla", "csp", "pfa"], "period_types": ["academic_year"],
}


@pytest.fixture
def toy_project(tmp_path, monkeypatch):
    """The dbt project as shipped, plus the toy's files; the toy declaration registered."""
    from ingestion import sources
    from ingestion.settings import DBT_PROJECT_DIR, Settings

    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    for relative, text in TOY_MODELS.items():
        (project / "models" / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / "models" / relative).write_text(text)
    config = yaml.safe_load((project / "dbt_project.yml").read_text())
    config["vars"]["indicators"].append(TOY_INDICATOR)
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    spec = sources.register(toy_source())
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(settings.warehouse_dir))
    yield project, settings, spec
    sources.unregister(spec.name)


def byar(events: float, z: float = 1.959963984540054) -> tuple[float, float]:
    """Byar's approximation to the exact Poisson limits on a count (the published formula)."""
    lower = events * (1 - 1 / (9 * events) - z / (3 * math.sqrt(events))) ** 3
    upper = (events + 1) * (1 - 1 / (9 * (events + 1)) + z / (3 * math.sqrt(events + 1))) ** 3
    return lower, upper


def test_a_toy_source_by_local_authority_and_academic_year_enters_through_declarations(tmp_path, toy_project):
    from ingestion import pipeline
    from ingestion.transform import run_dbt

    project, settings, spec = toy_project
    landing = write_mini_reference(tmp_path / "landing")
    pipeline.load_reference(landing, settings)
    write_street(landing / "police", "2024-01", [(("E01090001", "Reading 001A"), VIOLENCE, 12)])
    pipeline.ingest_police_street(landing / "police", settings)
    toy = tmp_path / "toy"
    toy.mkdir()
    (toy / "toy-la-events-202324.csv").write_text(
        f"events,new_la_code,time_period\n30,{READING},202324\n12,{SLOUGH},202324\n")
    loaded = pipeline.ingest("toy-la-events", toy, settings)
    assert [r.rows_loaded for r in loaded.results] == [2]
    pipeline.check_raw(settings)      # the GX suite derived from the declaration passes
    run_dbt(["build"], settings, project_dir=project)

    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        rows = con.execute("""SELECT area_type, area_code, numerator, denominator, value, lower_ci_95, upper_ci_95
                              FROM marts.fct_indicator_value WHERE indicator_id = 'toy_event_rate'
                              AND period_type = 'academic_year' AND period_start = DATE '2023-09-01'
                              ORDER BY area_type, area_code""").fetchall()
        registry = con.execute("SELECT refresh, area_level, period_type FROM raw.source_registry "
                               "WHERE source = 'toy_la_events'").fetchall()
    assert registry == [("by_period", "lad", "academic_year")]
    # by hand: Reading 30 / 3,500 residents, Slough 12 / 4,000; the force 42 / 7,500. Reading and
    # Slough are unitary (their own upper tier); each is its own CSP here.
    expected = {("lad", READING): (30, 3500), ("lad", SLOUGH): (12, 4000),
                ("utla", READING): (30, 3500), ("utla", SLOUGH): (12, 4000),
                ("csp", READING_CSP): (30, 3500), ("csp", "E22000310"): (12, 4000), ("pfa", PFA): (42, 7500)}
    got = {(r[0], r[1]): r[2:] for r in rows}
    assert set(got) == set(expected)          # nothing below local authority, nothing missing
    for key, (events, population) in expected.items():
        numerator, denominator, value, lower, upper = got[key]
        assert (numerator, denominator) == (events, population)
        assert value == pytest.approx(events / population * 1000, rel=1e-12)
        low, high = byar(events)
        assert lower == pytest.approx(low / population * 1000, rel=1e-9)
        assert upper == pytest.approx(high / population * 1000, rel=1e-9)
    assert got[("pfa", PFA)][2] == pytest.approx(5.6)

    # A later year of the toy rebuilds only the toy's own scope: its one academic year
    (toy / "toy-la-events-202425.csv").write_text(f"time_period,new_la_code,events\n202425,{READING},9\n"
                                                  f"202425,{SLOUGH},3\n")
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        police_before = con.execute("SELECT * FROM marts.fct_indicator_value WHERE indicator_id <> 'toy_event_rate' "
                                    "ORDER BY ALL").fetchall()
    pipeline.ingest("toy_la_events", toy, settings)
    pipeline.check_raw(settings)
    run_dbt(["build"], settings, project_dir=project)
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        assert con.execute("SELECT rebuild_all FROM intermediate.int_refresh__scope").fetchall() == [(False,)]
        assert con.execute("SELECT count(*) FROM intermediate.int_refresh__indicator WHERE rebuilt_in_full"
                           ).fetchone() == (0,)
        assert con.execute("SELECT indicator_id, period_type, period_start::varchar FROM intermediate.int_refresh__period"
                           ).fetchall() == [("toy_event_rate", "academic_year", "2024-09-01")]
        assert con.execute("SELECT DISTINCT raw_table FROM intermediate.int_refresh__source_period").fetchall() \
            == [("raw.toy_la_events",)]
        police_after = con.execute("SELECT * FROM marts.fct_indicator_value WHERE indicator_id <> 'toy_event_rate' "
                                   "ORDER BY ALL").fetchall()
        later = con.execute("""SELECT area_type, numerator, value FROM marts.fct_indicator_value
                               WHERE indicator_id = 'toy_event_rate' AND period_start = DATE '2024-09-01'
                               AND area_type IN ('lad', 'pfa') ORDER BY ALL""").fetchall()
    assert police_after == police_before
    # 9 and 3 events: below 10, the rate is withheld (Fingertips rule); the force's 12 is shown
    assert [r[:2] for r in later] == [("lad", 3), ("lad", 9), ("pfa", 12)]
    assert later[2][2] == pytest.approx(12 / 7500 * 1000) and later[0][2] is None and later[1][2] is None
