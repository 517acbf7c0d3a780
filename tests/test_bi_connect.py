"""A BI tool that only connects to the published file sees what dbt says about it.

The BI driver set (bi/requirements-bi.txt: DuckDB 1.4, duckdb-engine, SQLAlchemy) lives in its own
environment, .venv-bi (`make bi-venv`, a prerequisite of `make test`; run here too when this file is
run on its own). bi/check_connection.py connects through it to a real published file with the URL
docs/bi.md gives (`?access_mode=read_only`) and reflects every table and view as Superset does; what
it sees is compared with the dbt YAML and with a listing made by the main environment's DuckDB.

Fixture: the mini geography (conftest) and two months of police.uk street files, built, checked
and published as the pipeline does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from conftest import MINI_LSOAS, private_warehouse, write_mini_reference
from test_police_street_load import VIOLENCE, write_street

ROOT = Path(__file__).resolve().parents[1]
BI_PYTHON = ROOT / ".venv-bi" / "bin" / "python"
CHECK = ROOT / "bi" / "check_connection.py"
A, C = MINI_LSOAS[0][:2], MINI_LSOAS[2][:2]
READING = "E06000038"
# the views publish.py writes, and where a view column's description comes from: the same-named
# column of the first of these tables, or the (table, column) a renamed column stands for
VIEWS = {
    "indicator_value_by_area_code": ["fct_indicator_value"],
    "indicator_value_latest": ["fct_indicator_value", "dim_indicator", "dim_area", "dim_period"],
    "multi_agency_lsoa_month_named": ["fct_multi_agency_lsoa_month", "dim_area"],
}
RENAMED = {("multi_agency_lsoa_month_named", "lad_code"): ("dim_area", "parent_lad_code"),
           ("multi_agency_lsoa_month_named", "csp_code"): ("dim_area", "parent_csp_code"),
           ("multi_agency_lsoa_month_named", "pfa_code"): ("dim_area", "parent_pfa_code"),
           ("multi_agency_lsoa_month_named", "month_label"): ("dim_period", "period_label")}
PROVENANCE = {"load_manifest": ("load_manifest", ["load_id"]), "check_result": ("check_result", ["run_id"])}


@pytest.fixture(scope="module")
def bi_python():
    """The BI driver environment, made from bi/requirements-bi.txt by the Makefile (a no-op when
    it is up to date)."""
    made = subprocess.run(["make", "--no-print-directory", "-s", "bi-venv"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    return BI_PYTHON


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("bi")
    with private_warehouse(root):
        from ingestion import pipeline
        from ingestion.publish import publish
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        write_street(landing / "police", "2025-01", [(A, VIOLENCE, 11), (C, VIOLENCE, 3)])
        write_street(landing / "police", "2025-02", [(A, VIOLENCE, 4)])
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build"])
        pipeline.check_marts()
        yield publish()


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


@pytest.fixture(scope="module")
def dbt_yaml():
    """Descriptions as the dbt YAML declares them (models and the pipeline's sources), on one line."""
    models, sources = {}, {}
    for path in (ROOT / "dbt_project" / "models").rglob("*.yml"):
        document = yaml.safe_load(path.read_text()) or {}
        for model in document.get("models") or []:
            models[model["name"]] = (one_line(model.get("description")),
                                     {c["name"]: one_line(c.get("description")) for c in model.get("columns", [])})
        for source in document.get("sources") or []:
            for table in source.get("tables") or []:
                sources[table["name"]] = one_line(table.get("description"))
    return models, sources


@pytest.fixture(scope="module")
def listing(published):
    """The published file as the main environment's DuckDB lists it."""
    with duckdb.connect(str(published), read_only=True) as con:
        relations = dict(con.execute(
            "SELECT table_name, 'table' FROM duckdb_tables() UNION ALL "
            "SELECT view_name, 'view' FROM duckdb_views() WHERE NOT internal").fetchall())
        columns = {}
        for table, column, data_type in con.execute(
                "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE NOT internal "
                "ORDER BY table_name, column_index").fetchall():
            columns.setdefault(table, []).append((column, data_type))
        rows = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in relations}
        constraints = sorted([list(r) for r in con.execute(
            "SELECT table_name, constraint_type, constraint_column_names, coalesce(referenced_table, '') "
            "FROM duckdb_constraints() WHERE constraint_type <> 'NOT NULL'").fetchall()])
    return {"relations": relations, "columns": columns, "rows": rows, "constraints": constraints}


@pytest.fixture(scope="module")
def seen(bi_python, published):
    """bi/check_connection.py through the read-only URL, while another process holds the file open
    for reading; once it is connected, a third reader opens the file too."""
    url = f"duckdb:///{published}?access_mode=read_only"
    with duckdb.connect(str(published), read_only=True) as first:
        script = subprocess.Popen([str(bi_python), str(CHECK), url, "--wait"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = script.stdout.readline().strip()
            with duckdb.connect(str(published), read_only=True) as third:
                others = (first.execute("SELECT count(*) FROM dim_area").fetchone()[0],
                          third.execute("SELECT count(*) FROM dim_area").fetchone()[0])
            out, err = script.communicate("go\n", timeout=300)
        finally:
            if script.poll() is None:
                script.kill()
                script.wait()
    assert ready == "connected" and script.returncode == 0, err[-3000:]
    result = json.loads(out)
    result["others"] = others
    return result


def test_the_driver_set_is_the_pinned_one(seen):
    pins = dict(line.split("==") for line in (ROOT / "bi" / "requirements-bi.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert seen["versions"] == {p: pins[p] for p in ("duckdb", "duckdb-engine", "SQLAlchemy")}
    assert seen["duckdb_module"].startswith("1.4.")


def test_the_read_only_url_lets_other_readers_in_and_refuses_writes(seen, listing):
    assert seen["others"] == (listing["rows"]["dim_area"],) * 2
    assert seen["write"].startswith("refused: ") and "read-only" in seen["write"]


def test_the_read_write_url_locks_every_other_reader_out(bi_python, published, tmp_path):
    """Why the docs insist on access_mode=read_only (on a copy: a read-write open may write)."""
    copy = Path(shutil.copy(published, tmp_path / "copy.duckdb"))
    hold = ("import sqlalchemy as sa, sys; c = sa.create_engine(sys.argv[1]).connect(); "
            "print('connected', flush=True); sys.stdin.readline()")
    holder = subprocess.Popen([str(bi_python), "-c", hold, f"duckdb:///{copy}"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "connected"
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(copy), read_only=True)
    finally:
        holder.communicate("\n", timeout=60)


def test_every_table_view_and_column_is_listed_and_queried_as_duckdb_lists_them(seen, listing):
    relations = seen["relations"]
    assert {n: r["kind"] for n, r in relations.items()} == listing["relations"]
    assert {"load_manifest", "check_result", *VIEWS} <= set(relations)
    for name, relation in relations.items():
        # DOUBLE is reflected as SQLAlchemy's FLOAT (a Python float, no precision lost)
        assert [(c["name"], c["type"]) for c in relation["columns"]] == \
            [(c, {"DOUBLE": "FLOAT"}.get(t, t)) for c, t in listing["columns"][name]], name
        assert relation["rows"] == listing["rows"][name] and relation["first_rows"] == min(5, relation["rows"]), name
    assert relations["fct_indicator_value"]["rows"] > 50 and relations["fct_multi_agency_lsoa_month"]["rows"] > 0
    # the contracts' not_null constraints come through
    nullable = {c["name"]: c["nullable"] for c in relations["fct_indicator_value"]["columns"]}
    assert nullable["indicator_id"] is False and nullable["value"] is True


def test_every_comment_is_the_dbt_description(seen, dbt_yaml):
    models, sources = dbt_yaml
    relations, catalog = seen["relations"], seen["catalog"]
    marts = {n for n, r in relations.items() if r["kind"] == "table"} - set(PROVENANCE)
    assert marts == set(catalog["tables"]) - set(PROVENANCE) and marts <= set(models)

    def described(table: str) -> dict[str, str]:
        return {c["name"]: c["comment"] for c in relations[table]["columns"]}

    for name in marts:
        description, columns = models[name]
        assert relations[name]["comment"] == description == catalog["tables"][name], name
        assert described(name) == columns, name
    for name, (source, _) in PROVENANCE.items():
        assert relations[name]["comment"].startswith(sources[source] + " Published "), name
        assert all(described(name).values()), name
    for view, columns_from in VIEWS.items():
        assert relations[view]["comment"] and catalog["views"][view] == relations[view]["comment"]
        for column, comment in described(view).items():
            origin = RENAMED.get((view, column)) or next(
                ((t, column) for t in columns_from if column in models[t][1]), None)
            if origin:
                assert comment == models[origin[0]][1][origin[1]], (view, column)
            else:                           # a column of the view's own, described in publish.py
                assert comment, (view, column)
    # what the driver's DuckDB 1.4 reads from the catalog is what SQLAlchemy reflected
    assert {(t, c): comment for t, c, comment in catalog["columns"]} == \
        {(t, c["name"]): c["comment"] for t, r in relations.items() for c in r["columns"]}


def test_keys_are_the_declared_unique_combinations_and_dimension_references(seen, listing, dbt_yaml):
    catalog = seen["catalog"]["constraints"]
    assert catalog == listing["constraints"]            # DuckDB 1.4 reads every key the file declares
    primary = {t: cols for t, kind, cols, _ in catalog if kind == "PRIMARY KEY"}
    unique = {t: cols for t, kind, cols, _ in catalog if kind == "UNIQUE"}
    foreign = sorted((t, tuple(cols), ref) for t, kind, cols, ref in catalog if kind == "FOREIGN KEY")
    marts_yaml = yaml.safe_load((ROOT / "dbt_project" / "models" / "marts" / "_marts__models.yml").read_text())
    declared = {}
    for model in marts_yaml["models"]:
        for test in model.get("data_tests", []):
            declared[model["name"]] = test["unique_combination_of_columns"]["arguments"]["combination_of_columns"]
        for column in model["columns"]:
            if "unique" in column.get("data_tests", []):
                declared[model["name"]] = [column["name"]]
    keys = {**primary, **unique}
    assert {t: k for t, k in keys.items() if t not in PROVENANCE} == declared
    # a primary key where every key column is NOT NULL in the contract, else UNIQUE
    assert set(primary) >= {"dim_area", "dim_indicator", "dim_period", "fct_indicator_value",
                            "fct_multi_agency_lsoa_month", "fct_police_crime_lsoa_month", "fct_area_population"}
    assert set(unique) == {"fct_indicator_trend", "fct_source_coverage", "fct_stop_search_force_month",
                           "fct_stop_search_lsoa_month"}
    assert {t: primary[t] for t in PROVENANCE} == {t: key for t, (_, key) in PROVENANCE.items()}
    facts_with_indicator = {"fct_indicator_value", "fct_indicator_trend", "fct_indicator_inequality",
                            "fct_indicator_imd_quantile"}
    facts_with_area = facts_with_indicator | {"fct_area_population", "fct_ae_assault_profile", "fct_source_coverage"}
    assert foreign == sorted([(t, ("indicator_id",), "dim_indicator") for t in facts_with_indicator]
                             + [(t, ("area_code", "area_type"), "dim_area") for t in facts_with_area])
    relations = seen["relations"]
    # duckdb-engine reflects the foreign keys; it cannot reflect primary keys (DuckDB's pg_index has
    # no key columns: duckdb_engine issue 594). When a new pin can, compare them and update docs/bi.md.
    assert sorted((t, tuple(cols), ref) for t, r in relations.items() for cols, ref, _ in r["foreign_keys"]) == foreign
    assert {t: r["primary_key"] for t, r in relations.items() if r["primary_key"]} == {}


def test_the_views_keep_one_row_per_code_and_the_latest_period_with_names(published):
    with duckdb.connect(str(published), read_only=True) as con:
        by_code = con.execute("SELECT count(*), count(DISTINCT (indicator_id, area_code, period_type, period_start)) "
                              "FROM indicator_value_by_area_code").fetchone()
        reading = con.execute("SELECT DISTINCT area_type FROM indicator_value_by_area_code WHERE area_code = ?",
                              [READING]).fetchall()
        expected_latest = con.execute("""
            SELECT v.indicator_id, d.indicator_name, v.area_code, a.area_name, v.area_type, v.period_type,
                   p.period_label, v.value
            FROM fct_indicator_value v
            JOIN (SELECT indicator_id, area_code, area_type, period_type, max(period_start) AS period_start
                  FROM fct_indicator_value GROUP BY 1, 2, 3, 4) USING (indicator_id, area_code, area_type, period_type,
                                                                     period_start)
            JOIN dim_indicator d USING (indicator_id)
            JOIN dim_area a USING (area_code, area_type) JOIN dim_period p USING (period_type, period_start)
            ORDER BY ALL""").fetchall()
        latest = con.execute("SELECT indicator_id, indicator_name, area_code, area_name, area_type, period_type, "
                             "period_label, value FROM indicator_value_latest ORDER BY ALL").fetchall()
        reading_latest = con.execute(
            "SELECT area_type, period_label, numerator, also_published_as FROM indicator_value_latest "
            "WHERE indicator_id = 'violence_offences_rate' AND area_code = ? AND period_type = 'month' ORDER BY 1",
            [READING]).fetchall()
        named = con.execute("SELECT lsoa21_code, lsoa21_name, lad_name, pfa_name, month_label, police_violence_count "
                            "FROM multi_agency_lsoa_month_named WHERE police_violence_count > 0 ORDER BY ALL").fetchall()
        fact_rows = con.execute("SELECT count(*) FROM fct_multi_agency_lsoa_month").fetchone()[0]
        named_rows = con.execute("SELECT count(*), count(lsoa21_name), count(lad_name), count(pfa_name), "
                                 "count(month_label) FROM multi_agency_lsoa_month_named").fetchone()
    assert by_code[0] == by_code[1] > 0 and reading == [("lad",)]
    assert latest == expected_latest and len(latest) > 0
    # February is Reading's latest month: 4 offences in A, under both of its area types
    assert reading_latest == [("lad", "2025-02", 4.0, "utla"), ("utla", "2025-02", 4.0, "lad")]
    assert named == [(A[0], A[1], "Reading", "Thames Valley", "2025-01", 11.0),
                     (A[0], A[1], "Reading", "Thames Valley", "2025-02", 4.0),
                     (C[0], C[1], "Slough", "Thames Valley", "2025-01", 3.0)]
    assert named_rows == (fact_rows,) * 5


def test_a_table_too_large_to_index_states_its_key_in_its_comment(published, monkeypatch):
    """Above KEYED_ROWS_MAX rows a table gets no key constraints (their index would multiply a
    national publish), and its comment says what its key is. Republished as before at the end."""
    import ingestion.publish as publishing

    monkeypatch.setattr(publishing, "KEYED_ROWS_MAX", 5)
    try:
        publishing.publish(force=True)      # nothing changed since the fixture published
        with duckdb.connect(str(published), read_only=True) as con:
            large = con.execute("SELECT count(*) FROM fct_indicator_value").fetchone()[0]
            keyed = con.execute("SELECT DISTINCT table_name FROM duckdb_constraints() WHERE constraint_type IN "
                                "('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY') AND table_name = 'fct_indicator_value'"
                                ).fetchall()
            comment = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'fct_indicator_value'"
                                  ).fetchone()[0]
        assert large > 5 and keyed == []
        assert "Unique key: (indicator_id, area_code, area_type, period_type, period_start)" in comment
    finally:
        monkeypatch.undo()
        publishing.publish(force=True)
