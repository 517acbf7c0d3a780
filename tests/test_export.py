"""`vru export DIR`: the published warehouse as Parquet or CSV files, a data dictionary and a
Fingertips-style CSV, each checked against queries of the published file itself.

Fixture: the mini geography and January's police.uk street file (violence in two LSOAs, robbery in
one: counts above and below Fingertips' suppression threshold), built, checked and published as
the pipeline does (about 50 s, most of it dbt build).
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from conftest import MINI_LSOAS, SHARED_REALDATA, write_mini_reference
from test_police_street_load import ROBBERY, VIOLENCE, write_street

REAL_FINGERTIPS = SHARED_REALDATA / "fingertips" / "indicators-CountyUA.data.csv"
# the header of OHID Fingertips' data download, as the real file above has it
FINGERTIPS_HEADER = [
    "Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code", "Area Name", "Area Type", "Sex",
    "Age", "Category Type", "Category", "Time period", "Value", "Lower CI 95.0 limit", "Upper CI 95.0 limit",
    "Lower CI 99.8 limit", "Upper CI 99.8 limit", "Count", "Denominator", "Value note", "Recent Trend",
    "Compared to England value or percentiles", "Compared to Region value or percentiles", "Time period Sortable",
    "New data", "Compared to goal",
]
# the mart's comparison words and Fingertips' for them
FINGERTIPS_WORDS = {"better": "Better", "similar": "Similar", "worse": "Worse", "higher": "Higher", "lower": "Lower",
                    "not compared": "Not compared"}
PROVENANCE = ("load_manifest", "check_result")
READING_A, SLOUGH_A = MINI_LSOAS[0][:2], MINI_LSOAS[2][:2]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VRU_WAREHOUSE_DIR", str(root / "warehouse"))
        from ingestion import pipeline
        from ingestion.publish import publish
        from ingestion.settings import get_settings
        from ingestion.transform import run_dbt

        landing = write_mini_reference(root / "landing")
        write_street(landing / "police", "2025-01", [(READING_A, VIOLENCE, 11), (SLOUGH_A, VIOLENCE, 3),
                                                     (READING_A, ROBBERY, 2)])
        pipeline.load_reference(landing)
        pipeline.ingest_police_street(landing / "police")
        pipeline.check_raw()
        run_dbt(["build"])
        pipeline.check_marts()
        publish()
        yield get_settings()


def _query(settings, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _objects(settings) -> dict[str, list[tuple[str, str]]]:
    """Every table and view of the published main schema: its columns and their types."""
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in _query(settings, """
            SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"""):
        found.setdefault(table, []).append((column, data_type))
    return found


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def parquet_export(published, tmp_path_factory):
    from ingestion.export import export

    folder = tmp_path_factory.mktemp("parquet") / "export"
    return folder, export(folder, "parquet", published)


@pytest.fixture(scope="module")
def csv_export(published, tmp_path_factory):
    from ingestion.export import export

    folder = tmp_path_factory.mktemp("csv") / "export"
    return folder, export(folder, "csv", published)


def test_every_table_and_view_is_exported_as_parquet_with_the_same_rows(published, parquet_export):
    folder, result = parquet_export
    objects = _objects(published)
    assert {"fct_indicator_value", "dim_area", "load_manifest", "check_result", "indicator_value_by_area_code"} \
        <= set(objects)
    assert sorted(t.name for t in result.tables) == sorted(objects)
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{published.published_db}' AS pub (READ_ONLY)")
        for table, columns in objects.items():
            names = ", ".join(f'"{c}"' for c, _ in columns)
            if table == "fct_indicator_value":
                source = f"read_parquet('{folder / table}/*/*.parquet', hive_partitioning = true)"
            else:
                source = f"read_parquet('{folder / f'{table}.parquet'}')"
            exported = con.execute(f"SELECT {names} FROM {source}").fetchall()
            expected = con.execute(f'SELECT {names} FROM pub.main."{table}"').fetchall()
            assert len(exported) == len(expected), table
            assert Counter(exported) == Counter(expected), table
            # and the types survive (Hive folders give the partition column as text)
            types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT {names} FROM {source})")
                         .fetchall())
            assert types == dict(columns), table
    assert _query(published, "SELECT count(*) FROM fct_indicator_value")[0][0] >= 40


def _parse(cell: str, data_type: str):
    """A CSV cell as the published value it stands for (DuckDB writes NULL as an empty cell)."""
    if cell == "":
        return None
    if data_type in ("DOUBLE", "FLOAT"):
        return float(cell)
    if data_type in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT"):
        return int(cell)
    if data_type == "BOOLEAN":
        return {"true": True, "false": False}[cell]
    if data_type == "DATE":
        return date.fromisoformat(cell)
    if data_type.startswith("TIMESTAMP"):
        return datetime.fromisoformat(cell)
    assert data_type == "VARCHAR", data_type
    return cell


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_every_table_and_view_is_exported_as_csv_with_the_same_rows(published, csv_export):
    folder, _ = csv_export
    for table, columns in _objects(published).items():
        paths = sorted((folder / table).glob("*/*.csv")) if table == "fct_indicator_value" else [folder / f"{table}.csv"]
        exported = []
        for path in paths:
            header, rows = _read_csv(path)
            assert header == [c for c, _ in columns], table
            exported += [tuple(_parse(cell, t) for cell, (_, t) in zip(row, columns, strict=True)) for row in rows]
        names = ", ".join(f'"{c}"' for c, _ in columns)
        # an empty text is written as an empty cell too: compare it as NULL
        expected = [tuple(None if v == "" else v for v in row) for row in _query(published, f'SELECT {names} FROM "{table}"')]
        assert len(exported) == len(expected), table
        assert Counter(exported) == Counter(expected), table


def test_indicator_values_are_one_folder_per_indicator(published, parquet_export, csv_export):
    counts = dict(_query(published, "SELECT indicator_id, count(*) FROM fct_indicator_value GROUP BY ALL"))
    assert len(counts) >= 3
    for (folder, result), suffix in ((parquet_export, "parquet"), (csv_export, "csv")):
        parts = sorted((folder / "fct_indicator_value").iterdir())
        assert [p.name for p in parts] == sorted(f"indicator_id={i}" for i in counts)
        assert next(t for t in result.tables if t.name == "fct_indicator_value").partitions == len(counts)
        for part in parts:
            files = list(part.iterdir())
            assert [f.name for f in files] == [f"fct_indicator_value.{suffix}"]
            indicator = part.name.split("=", 1)[1]
            with duckdb.connect() as con:
                if suffix == "parquet":     # Hive: the folder names the indicator, the file leaves it out
                    rows = con.execute(f"SELECT count(*) FROM read_parquet('{files[0]}')").fetchall()[0][0]
                    assert "indicator_id" not in [r[0] for r in con.execute(
                        f"DESCRIBE SELECT * FROM read_parquet('{files[0]}', hive_partitioning = false)").fetchall()]
                else:                       # a spreadsheet opens one file: it keeps the column
                    header, body = _read_csv(files[0])
                    rows = len(body)
                    assert {r[header.index("indicator_id")] for r in body} == {indicator}
            assert rows == counts[indicator]
    # the small tables are one file each
    assert (parquet_export[0] / "dim_area.parquet").is_file() and (csv_export[0] / "dim_area.csv").is_file()


def test_a_table_over_the_partition_size_with_indicator_ids_is_partitioned_too(published, tmp_path):
    from ingestion.export import export

    result = export(tmp_path / "export", "parquet", published, partition_rows=10)
    partitioned = {t.name for t in result.tables if t.partitions is not None}
    with_ids = [t for (t,) in _query(published, "SELECT table_name FROM information_schema.columns "
                                     "WHERE table_schema = 'main' AND column_name = 'indicator_id'")]
    over = {t for t in with_ids if _query(published, f"SELECT count(*) FROM {t}")[0][0] > 10}
    assert partitioned == over | {"fct_indicator_value"}
    # (fct_indicator_trend has no row here: one month, and months are never tested for trend)
    assert "indicator_value_by_area_code" in partitioned
    assert (tmp_path / "export" / "dim_area.parquet").is_file()      # no indicator_id
    assert len(list((tmp_path / "export" / "indicator_value_by_area_code").iterdir())) == \
        _query(published, "SELECT count(DISTINCT indicator_id) FROM indicator_value_by_area_code")[0][0]


def _dictionary(folder: Path) -> list[dict[str, str]]:
    with open(folder / "data_dictionary.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _declared(settings) -> set[str]:
    """Provenance tables whose columns some source describes: comments in the published file, or
    column descriptions in the dbt YAML (the pipeline source)."""
    from ingestion.settings import DBT_PROJECT_DIR

    commented = {t for (t,) in _query(settings, "SELECT DISTINCT table_name FROM duckdb_columns() "
                                      "WHERE schema_name = 'main' AND comment IS NOT NULL AND comment <> ''")}
    in_yaml = set()
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        for source in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("sources") or []:
            in_yaml |= {t["name"] for t in source.get("tables") or [] if t.get("columns")}
    return commented | in_yaml


def test_the_data_dictionary_describes_every_column_of_every_exported_table(published, csv_export):
    from ingestion.settings import DBT_PROJECT_DIR

    folder, _ = csv_export
    entries = _dictionary(folder)
    described = {(e["table"], e["column"]): e for e in entries}
    undescribed = []
    for table, columns in _objects(published).items():
        assert (table, "") in described, table
        for column, data_type in columns:
            entry = described.get((table, column))
            assert entry is not None, (table, column)
            assert entry["data_type"] == data_type, (table, column)
            if not entry["description"].strip():
                undescribed.append((table, column))
    # the marts' descriptions are the dbt YAML's, word for word
    marts = {m["name"]: m for m in yaml.safe_load(
        (DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml").read_text(encoding="utf-8"))["models"]}
    value = next(c for c in marts["fct_indicator_value"]["columns"] if c["name"] == "value")
    assert described[("fct_indicator_value", "value")]["description"] == " ".join(value["description"].split())
    assert described[("fct_indicator_value", "")]["description"] == \
        " ".join(marts["fct_indicator_value"]["description"].split())
    # the view's columns are those of the table it reads
    assert described[("indicator_value_by_area_code", "value")]["description"] == \
        described[("fct_indicator_value", "value")]["description"]
    # the Fingertips-style file is in it too
    assert [e["column"] for e in entries if e["table"] == "indicator_values_fingertips" and e["column"]] \
        == FINGERTIPS_HEADER
    assert all(e["description"] for e in entries if e["table"] == "indicator_values_fingertips")
    markdown = (folder / "data_dictionary.md").read_text(encoding="utf-8")
    assert all(f"## {table}" in markdown for table in _objects(published))
    waiting = [(t, c) for t, c in undescribed if t in PROVENANCE and t not in _declared(published)]
    assert [u for u in undescribed if u not in waiting] == []
    if waiting:
        pytest.xfail(f"{len(waiting)} columns of the provenance tables ({', '.join(sorted({t for t, _ in waiting}))}) "
                     "are described nowhere yet: neither a COMMENT in the published file nor column descriptions "
                     "in dbt_project/models/staging/_pipeline__sources.yml")


def test_the_data_dictionary_prefers_the_published_files_comments(published, tmp_path, monkeypatch):
    from ingestion.export import export
    from ingestion.settings import get_settings

    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    settings = get_settings()
    settings.published_db.parent.mkdir(parents=True)
    shutil.copy(published.published_db, settings.published_db)
    with duckdb.connect(str(settings.published_db)) as con:
        con.execute("COMMENT ON COLUMN fct_indicator_value.value IS 'The rate, from the published file.'")
        con.execute("COMMENT ON COLUMN load_manifest.load_id IS 'The delivery, from the published file.'")
        con.execute("COMMENT ON VIEW indicator_value_by_area_code IS 'One row per area code.'")
        # a view's column with no comment of its own (publish may write them) takes its table's
        con.execute("COMMENT ON COLUMN indicator_value_by_area_code.value IS NULL")
        # and a table's column with none, the dbt YAML's
        con.execute("COMMENT ON COLUMN fct_indicator_value.lower_ci_95 IS NULL")
    export(tmp_path / "export", "csv", settings)
    described = {(e["table"], e["column"]): e for e in _dictionary(tmp_path / "export")}
    assert described[("fct_indicator_value", "value")]["description"] == "The rate, from the published file."
    assert described[("fct_indicator_value", "value")]["description_from"] == "published file (COMMENT ON)"
    assert described[("load_manifest", "load_id")]["description"] == "The delivery, from the published file."
    assert described[("indicator_value_by_area_code", "")]["description"] == "One row per area code."
    assert described[("indicator_value_by_area_code", "value")]["description"] == "The rate, from the published file."
    assert described[("fct_indicator_value", "lower_ci_95")]["description_from"] == "dbt models/marts/_marts__models.yml"
    assert "Byar" in described[("fct_indicator_value", "lower_ci_95")]["description"]


def test_the_fingertips_file_has_the_fingertips_header(csv_export, parquet_export):
    for folder, _ in (csv_export, parquet_export):
        header, _ = _read_csv(folder / "indicator_values_fingertips.csv")
        assert header == FINGERTIPS_HEADER
    # Fingertips writes CRLF line ends
    assert (csv_export[0] / "indicator_values_fingertips.csv").read_bytes().split(b"\n", 1)[0].endswith(b"\r")


@pytest.mark.skipif(not REAL_FINGERTIPS.exists(), reason="../shared/realdata is absent (a user's clone has no shared "
                    "folder): the header is checked against the copy in this test")
def test_the_header_copied_here_is_the_real_fingertips_files():
    with open(REAL_FINGERTIPS, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    assert header == FINGERTIPS_HEADER
    words = {r[header.index(c)] for r in rows for c in ("Compared to England value or percentiles",
                                                          "Compared to Region value or percentiles")}
    assert words <= set(FINGERTIPS_WORDS.values())
    assert {r[header.index("Sex")] for r in rows} == {"Persons"} and "All ages" in {r[header.index("Age")] for r in rows}
    assert "Cannot be calculated" in {r[header.index("Recent Trend")] for r in rows}


def test_fingertips_rows_carry_the_marts_values_names_and_comparisons(published, csv_export):
    from ingestion.settings import DBT_PROJECT_DIR

    header, rows = _read_csv(csv_export[0] / "indicator_values_fingertips.csv")
    got = [dict(zip(header, r, strict=True)) for r in rows]
    levels = {a["type"]: a["name"] for a in yaml.safe_load(
        (DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]["area_levels"]}
    mart = _query(published, """
        SELECT f.indicator_id, i.indicator_name, f.comparator_area_code, parent.area_name, f.area_code, a.area_name,
               f.area_type, p.period_label, f.value, f.lower_ci_95, f.upper_ci_95, f.lower_ci_998, f.upper_ci_998,
               f.numerator, f.denominator, f.comparison, f.comparison_with_england, f.is_suppressed,
               f.suppression_reason, t.trend
        FROM fct_indicator_value f
        JOIN dim_indicator i USING (indicator_id)
        JOIN dim_area a ON a.area_code = f.area_code AND a.area_type = f.area_type
        JOIN dim_area parent ON parent.area_code = f.comparator_area_code AND parent.area_type = 'pfa'
        JOIN dim_period p ON p.period_type = f.period_type AND p.period_start = f.period_start
        LEFT JOIN fct_indicator_trend t ON t.indicator_id = f.indicator_id AND t.area_code = f.area_code
             AND t.area_type = f.area_type AND t.period_type = f.period_type
        WHERE (f.indicator_id, f.area_code, f.area_type) IN (('violence_offences_rate', 'E06000038', 'lad'),
                                                          ('violence_offences_rate', ?, 'lsoa'),
                                                          ('robbery_rate', 'E06000038', 'utla'))
        ORDER BY ALL""", [READING_A[0]])
    assert len(mart) == 3
    count = _query(published, "SELECT count(*) FROM fct_indicator_value")[0][0]
    assert len(got) == count
    assert len({(r["Indicator ID"], r["Area Code"], r["Area Type"], r["Time period"]) for r in got}) == count
    for (indicator, name, parent, parent_name, code, area_name, area_type, period, value, low95, high95, low998, high998,
         numerator, denominator, comparison, with_england, suppressed, reason, trend) in mart:
        row = next(r for r in got if (r["Indicator ID"], r["Area Code"], r["Area Type"], r["Time period"])
                   == (indicator, code, levels[area_type], period))
        assert (row["Indicator Name"], row["Parent Code"], row["Parent Name"], row["Area Name"]) \
            == (name, parent, parent_name, area_name)
        assert (row["Sex"], row["Age"], row["Category Type"], row["Category"]) == ("Persons", "All ages", "", "")
        assert float(row["Count"]) == numerator and float(row["Denominator"]) == denominator
        assert row["Compared to Region value or percentiles"] == FINGERTIPS_WORDS[comparison]
        assert row["Compared to England value or percentiles"] == FINGERTIPS_WORDS[with_england]
        assert row["Time period Sortable"] == "20250001"
        # a month is never tested for trend (its ups and downs are mostly season): empty
        # (tests/test_indicator_trend.py checks the column on yearly rows)
        assert trend is None and row["Recent Trend"] == ""
        figures = [row[c] for c in ("Value", "Lower CI 95.0 limit", "Upper CI 95.0 limit", "Lower CI 99.8 limit",
                                    "Upper CI 99.8 limit")]
        if suppressed:      # no figures; the note says why
            assert figures == [""] * 5 and value is None
            assert row["Value note"].lower() == reason.lower() and "below 10" in reason
        else:
            assert [float(f) for f in figures] == [value, low95, high95, low998, high998]
            assert row["Value note"] == ""
    assert {r["Compared to Region value or percentiles"] for r in got} >= {"Worse", "Similar", "Not compared"}


def test_the_age_column_follows_the_indicator_catalogue():
    from ingestion.export import _indicator_ages

    ages = dict(_indicator_ages())
    assert ages["knife_serious_violence_u25_rate"] == "<25 yrs"
    assert ages["ae_assault_10_24_rate"] == ages["ae_assault_10_24_dsr"] == "10-24 yrs"
    assert "violence_offences_rate" not in ages and "ae_assault_dsr" not in ages      # All ages


def test_an_export_replaces_the_previous_one_and_the_same_published_file_gives_the_same_bytes(
        published, parquet_export, csv_export, tmp_path):
    from ingestion.export import export

    folder = tmp_path / "export"
    export(folder, "parquet", published)
    assert _files(folder) == _files(parquet_export[0])      # Parquet too
    (folder / "fct_indicator_value" / "indicator_id=retired_indicator").mkdir()
    (folder / "notes.txt").write_text("left in the folder")
    export(folder, "csv", published)
    assert not (folder / "notes.txt").exists() and not list(folder.rglob("*.parquet"))
    assert not (folder / "fct_indicator_value" / "indicator_id=retired_indicator").exists()
    first = _files(folder)
    assert first == _files(csv_export[0])          # another folder, another run: the same bytes
    export(folder, "csv", published)
    assert _files(folder) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]    # no temporary folder beside it


def test_a_failed_export_leaves_the_previous_one_and_no_temporary_folder(published, tmp_path, monkeypatch):
    import ingestion.export as exporting

    folder = tmp_path / "export"
    exporting.export(folder, "csv", published)
    before = _files(folder)

    def full_disk(*_):
        raise OSError(28, "No space left on device (test)")
    monkeypatch.setattr(exporting, "_export_fingertips", full_disk)
    with pytest.raises(OSError, match="No space left"):
        exporting.export(folder, "parquet", published)
    assert _files(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_an_export_never_replaces_a_folder_that_is_not_one(published, tmp_path):
    from ingestion.export import ExportRefused, export

    mine = tmp_path / "my documents"
    mine.mkdir()
    (mine / "report.docx").write_text("mine")
    with pytest.raises(ExportRefused, match="not an earlier export"):
        export(mine, "csv", published)
    assert [p.name for p in mine.iterdir()] == ["report.docx"]
    (tmp_path / "empty").mkdir()
    export(tmp_path / "empty", "csv", published)
    assert (tmp_path / "empty" / "data_dictionary.csv").is_file()


def test_vru_export_prints_what_it_wrote_while_a_writer_holds_the_warehouse(published, tmp_path):
    from typer.testing import CliRunner

    from ingestion.cli import app
    from ingestion.warehouse import writer_lock

    # a pipeline writer holding the lock and DuckDB's own lock on the working file
    with writer_lock(published, timeout_s=0), duckdb.connect(str(published.working_db)):
        done = CliRunner().invoke(app, ["export", str(tmp_path / "out"), "--format", "csv"], terminal_width=200)
    output = " ".join(done.output.split())
    assert done.exit_code == 0, done.output
    assert "✓ Exporting the published warehouse to" in output
    for item in ("fct_indicator_value/", "dim_area.csv", "load_manifest.csv", "indicator_values_fingertips.csv",
                 "data_dictionary.csv"):
        assert item in output
    assert (tmp_path / "out" / "dim_area.csv").is_file()


def test_vru_export_says_when_nothing_is_published_yet(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ingestion.cli import app

    monkeypatch.setenv("VRU_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    done = CliRunner().invoke(app, ["export", str(tmp_path / "out")], terminal_width=200)
    output = " ".join(done.output.split())
    assert done.exit_code == 1
    assert "nothing has been published yet" in output and "vru publish" in output
    assert not (tmp_path / "out").exists()
    done = CliRunner().invoke(app, ["export", str(tmp_path / "out"), "--format", "xlsx"], terminal_width=200)
    assert done.exit_code == 1 and "give parquet or csv" in done.output
