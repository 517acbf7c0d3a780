"""The demo generator: deterministic, in the real layouts, with the planted signals findable
by an independent count of the written files."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict

import pytest

from ingestion.demo.generate import generate_demo_extracts

TV_LADS = {"E06000036", "E06000037", "E06000038", "E06000039", "E06000040", "E06000041", "E06000042",
           "E06000060", "E07000177", "E07000178", "E07000179", "E07000180", "E07000181"}
VIOLENCE = "Violence and sexual offences"


@pytest.fixture(scope="module")
def extracts(tmp_path_factory):
    return generate_demo_extracts(tmp_path_factory.mktemp("demo"), seed=2025)


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def files(e):
    return [*e.police_files, *e.lookup_files.values(), *e.population_files]


def test_same_seed_same_bytes_other_seed_other_files(extracts, tmp_path):
    again = generate_demo_extracts(tmp_path / "again", seed=2025)
    for a, b in zip(files(extracts), files(again), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = generate_demo_extracts(tmp_path / "other", seed=7)
    assert other.police_files[0].read_bytes() != extracts.police_files[0].read_bytes()


def test_headers_are_the_published_layouts(extracts):
    first = lambda p: p.read_text().splitlines()[0]  # noqa: E731
    assert first(extracts.police_files[0]) == ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,"
                                               "Location,LSOA code,LSOA name,Crime type,Last outcome category,Context")
    assert first(extracts.lookup_files["lsoa21_lad"]) == "LSOA21CD,LSOA21NM,WD24CD,WD24NM,LAD24CD,LAD24NM,ObjectId"
    assert first(extracts.lookup_files["lad_csp_pfa"]) == "LAD24CD,LAD24NM,CSP24CD,CSP24NM,PFA24CD,PFA24NM,ObjectId"
    population_header = first(extracts.population_files[0]).split(",")
    assert population_header[:5] == ["LAD 2023 Code", "LAD 2023 Name", "LSOA 2021 Code", "LSOA 2021 Name", "Total"]
    assert population_header[5:] == [f"F{a}" for a in range(91)] + [f"M{a}" for a in range(91)]
    assert [p.parent.name for p in extracts.police_files] == [f"2025-{m:02d}" for m in range(1, 13)]


def test_real_thames_valley_districts_and_consistent_lsoas(extracts):
    lookup = read(extracts.lookup_files["lsoa21_lad"])
    population = read(extracts.population_files[0])
    assert {r["LAD24CD"] for r in read(extracts.lookup_files["lad_csp_pfa"])} == TV_LADS
    assert {r["PFA24CD"] for r in read(extracts.lookup_files["lad_csp_pfa"])} == {"E23000029"}
    assert {r["LSOA21CD"] for r in lookup} == {r["LSOA 2021 Code"] for r in population}
    for row in population:
        assert int(row["Total"]) == sum(int(v) for k, v in row.items() if k[0] in "FM" and k[1:].isdigit())


def test_planted_hotspot_and_july_peak_are_found_by_counting_the_files(extracts):
    population = {r["LSOA 2021 Code"]: int(r["Total"]) for r in read(extracts.population_files[0])}
    violence_by_lsoa, violence_by_month = Counter(), Counter()
    for path in extracts.police_files:
        for row in read(path):
            if row["Crime type"] == VIOLENCE:
                violence_by_month[row["Month"]] += 1
                if row["LSOA code"]:
                    violence_by_lsoa[row["LSOA code"]] += 1
    rates = {code: violence_by_lsoa[code] / pop for code, pop in population.items()}
    force_rate = sum(violence_by_lsoa.values()) / sum(population.values())
    top = max(rates, key=rates.get)
    assert top == extracts.hotspot_lsoa21_code
    assert rates[top] > 3 * force_rate
    assert max(violence_by_month, key=violence_by_month.get) == extracts.peak_month == "2025-07"


def test_records_look_like_police_uk(extracts):
    rows = read(extracts.police_files[0])
    assert 12_000 < len(rows) < 20_000
    kinds = defaultdict(set)
    for row in rows:
        asb = row["Crime type"] == "Anti-social behaviour"
        kinds["asb_ids" if asb else "crime_ids"].add(len(row["Crime ID"]))
        if row["Location"] == "No Location":
            assert row["LSOA code"] == row["Longitude"] == ""
    assert kinds["asb_ids"] == {0} and kinds["crime_ids"] == {64}
    assert any("," in row["Location"] for row in rows)      # quoted commas, as in real files
