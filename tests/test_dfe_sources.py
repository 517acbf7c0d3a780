"""The real DfE exclusions files (../shared/realdata/dfe: the 2006/07–2016/17 explore-education-
statistics layout, CRLF, `x` suppression, legacy SFR35 reason file with fractional counts) read
by name across layouts, levels kept apart, symbols never zero, and local authorities placed in
current areas. Checked against the files themselves read with Python's csv module and against
the file's own regional and national rows, never against the loader's output alone."""

from __future__ import annotations

import csv
import zipfile
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "dfe"
pytestmark = pytest.mark.skipif(not REAL.exists(), reason=f"real DfE files not found at {REAL} (../shared is absent)")
MEASURES = ("headcount", "perm_excl", "fixed_excl", "one_plus_fixed")
SYMBOLS = {"x", "z", "c", "low", "u", ":", "~"}


def round5(value: float) -> int:
    """DfE's rounding of regional and national figures in these releases: to the nearest 5."""
    return int(5 * ((value + 2.5) // 5))


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The real files loaded through the declarations, and the geographic-level file as text."""
    from ingestion import pipeline
    from ingestion.settings import Settings

    tmp = tmp_path_factory.mktemp("dfe_real")
    land = tmp / "dfe"
    land.mkdir()
    with zipfile.ZipFile(REAL / "exclusions_by_geographic_level.zip") as archive:
        archive.extract("exclusions_by_geographic_level.csv", land)
    for name in ("exclusions_by_reason.csv", "SFR35_2017_reason_for_exclusion.csv", "exclusions_by_reason.meta.csv",
                 "exclusions_by_characteristic.csv", "nat_summary.csv"):
        (land / name).write_bytes((REAL / name).read_bytes())
    settings = Settings(warehouse_dir=tmp / "warehouse")
    loaded = {source: [(r.file.name, r.outcome) for r in pipeline.ingest(source, land, settings).results]
              for source in ("dfe-exclusions", "dfe-exclusion-reasons")}
    with open(land / "exclusions_by_geographic_level.csv", newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    return settings, loaded, rows


def test_each_file_goes_to_its_source_by_header(real):
    _, loaded, _ = real
    # the characteristic, national-summary and .meta.csv files are neither source's
    assert loaded == {"dfe-exclusions": [("exclusions_by_geographic_level.csv", "loaded")],
                      "dfe-exclusion-reasons": [("SFR35_2017_reason_for_exclusion.csv", "loaded"),
                                                ("exclusions_by_reason.csv", "loaded")]}


def test_local_authorities_sum_to_the_files_own_regions_and_england(real):
    """Summed from the text of the file: each region's authorities (and all authorities for
    England), where none withheld the figure, equal the file's own row to DfE's rounding; the
    loaded rows equal the file's, level by level."""
    settings, _, rows = real
    sums = defaultdict(lambda: [0, True])
    published = {}
    for row in rows:
        level = row["geographic_level"]
        for measure in MEASURES:
            value = row[measure]
            if level == "Local authority":
                for key in ((row["time_period"], row["region_code"], row["school_type"], measure),
                            (row["time_period"], "England", row["school_type"], measure)):
                    if value in SYMBOLS:
                        sums[key][1] = False
                    else:
                        sums[key][0] += float(value)
            elif level in ("Regional", "National"):
                area = row["region_code"] if level == "Regional" else "England"
                published[(row["time_period"], area, row["school_type"], measure)] = value
    compared = withheld = 0
    for key, value in published.items():
        total, complete = sums[key]
        if complete:
            assert round5(total) == int(value), key
            compared += 1
        else:
            withheld += 1
    assert compared > 1_400 and withheld > 100      # 10 regions and England × 11 years × 4 phases × 4 measures

    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        loaded = {(level, measure): (n, total) for level, measure, n, total in con.execute("""
            UNPIVOT (SELECT geographic_level, count(headcount) AS headcount, sum(headcount) AS s_headcount,
                            count(perm_excl) AS perm_excl, sum(perm_excl) AS s_perm_excl,
                            count(suspension) AS fixed_excl, sum(suspension) AS s_fixed_excl,
                            count(one_plus_susp) AS one_plus_fixed, sum(one_plus_susp) AS s_one_plus_fixed
                     FROM raw.dfe_exclusions GROUP BY ALL)
            ON (headcount, s_headcount) AS headcount, (perm_excl, s_perm_excl) AS perm_excl,
               (fixed_excl, s_fixed_excl) AS fixed_excl, (one_plus_fixed, s_one_plus_fixed) AS one_plus_fixed
            INTO NAME measure VALUE n, total""").fetchall()}
    for level in ("National", "Regional", "Local authority", "School"):
        for measure in MEASURES:
            values = [r[measure] for r in rows if r["geographic_level"] == level and r[measure] not in SYMBOLS]
            n, total = loaded[(level, measure)]
            assert (n, total) == (len(values), pytest.approx(sum(float(v) for v in values))), (level, measure)


def test_a_symbol_is_null_with_its_status_never_zero(real):
    settings, _, rows = real
    shown = defaultdict(int)
    for row in rows:
        for column, measure in (("perm_excl", "perm_excl"), ("fixed_excl", "suspension")):
            if row[column] in SYMBOLS:
                shown[(measure, row[column])] += 1
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        got = {}
        for measure in ("perm_excl", "suspension"):
            for status, n, zeros in con.execute(
                    f"SELECT {measure}_status, count(*), count(*) FILTER (WHERE {measure} IS NOT NULL) "
                    f"FROM raw.dfe_exclusions WHERE {measure}_status IS NOT NULL GROUP BY ALL").fetchall():
                got[(measure, status)] = n
                assert zeros == 0
        # fractional reason counts (the legacy release shared an exclusion between its reasons) kept
        fractional = con.execute("SELECT count(*) FROM raw.dfe_exclusion_reasons "
                                 "WHERE exclusions <> floor(exclusions)").fetchone()[0]
    assert got == dict(shown) and shown[("perm_excl", "x")] > 15_000
    assert fractional > 3_000


def test_authorities_are_placed_in_current_areas(real):
    """Buckinghamshire county (E10000002, abolished 2020) counts in Buckinghamshire unitary
    (E06000060); Bournemouth before 2019 in no current authority (BCP took part of Dorset county
    too); Bedfordshire before 2009 (no GSS code) nowhere; a withheld Total stays null."""
    from ingestion.transform import run_dbt

    settings, _, rows = real
    run_dbt(["build", "--select", "+int_dfe__exclusion_area_year"], settings)
    totals = {(r["time_period"], r["new_la_code"]): r for r in rows
              if r["geographic_level"] == "Local authority" and r["school_type"] == "Total"}
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        placed = {(a, str(y.year) + str(y.year + 1)[2:]): (h, p, ps) for a, y, h, p, ps in con.execute("""
            SELECT area_code, period_start, headcount, perm_excl, perm_excl_status
            FROM intermediate.int_dfe__exclusion_area_year WHERE area_type = 'utla'""").fetchall()}
        placement = dict(con.execute("""SELECT new_la_code, placement FROM intermediate.int_dfe__local_authority_year
                                        WHERE academic_year_start = DATE '2016-09-01'""").fetchall())
    bucks = totals[("201617", "E10000002")]
    assert placed[("E06000060", "201617")][0] == int(bucks["headcount"])
    assert ("E10000002", "201617") not in placed
    assert placement["E10000002"] == "in its successor E06000060"
    assert ("E06000058", "201617") not in placed and ("E06000028", "201617") not in placed
    assert placement["E06000028"].startswith("before E06000058 was formed")
    assert placed[("E06000038", "201617")][0] == int(totals[("201617", "E06000038")]["headcount"])
    withheld = [(k, r) for k, r in totals.items() if r["perm_excl"] == "x" and k[1]
                and (k[1], k[0]) in placed]
    assert withheld
    for (year, code), _ in withheld:
        assert placed[(code, year)][1:] == (None, "x")
