"""The demo generator: deterministic, in the real layouts, with the planted signals findable
by an independent count of the written files."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from ingestion.codes import seed_rows
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
    return [*e.police_files, *e.lookup_files.values(), *e.population_files, *e.ae_istv_files, *e.ae_ecds_files,
            *e.dfe_files]


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
    # two complete financial years, April 2023 to March 2025; the force extract for the last
    assert [p.name for p in extracts.force_crime_files] == [f"TVP_recorded_crime_{m}.csv" for m in extracts.later_months]
    assert extracts.later_months == extracts.months[12:]
    assert [p.parent.name for p in extracts.police_files] == (
        [f"2023-{m:02d}" for m in range(4, 13)] + [f"2024-{m:02d}" for m in range(1, 13)] + ["2025-01", "2025-02", "2025-03"])


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
                violence_by_month[row["Month"][5:]] += 1      # month of the year, both years together
                if row["LSOA code"]:
                    violence_by_lsoa[row["LSOA code"]] += 1
    rates = {code: violence_by_lsoa[code] / pop for code, pop in population.items()}
    force_rate = sum(violence_by_lsoa.values()) / sum(population.values())
    top = max(rates, key=rates.get)
    assert top == extracts.hotspot_lsoa21_code
    assert rates[top] > 3 * force_rate
    assert max(violence_by_month, key=violence_by_month.get) == extracts.peak_month == "07"


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


# --- hospital A&E: ISTV submissions and ECDS extracts (docs/ae_data.md) ---

AE_FILE = re.compile(r"(istv|ecds)-([A-Z0-9]+)-(\d{4}-\d{2})(?:-r(\d+))?\.csv")
ISTV_HEADER = ("Site Code,Reporting Period Start,Reporting Period End,Attendance Reference,Arrival Date,"
               "Arrival Time,Assault Date,Assault Time,Assault Method,Assault Method Description,"
               "Assault Location Type,Assault Location Description")
ECDS_HEADER = ("EC_Ident,Der_Provider_Code,Arrival_Date,Arrival_Time,Age_At_Arrival,Sex,EC_Injury_Date,"
               "EC_Injury_Time,EC_Injury_Intent_SNOMED_CT,EC_Injury_Mechanism_SNOMED_CT,"
               "EC_Place_Of_Injury_SNOMED_CT,EC_Place_Of_Injury_Latitude,EC_Place_Of_Injury_Longitude,"
               "Der_Postcode_LSOA_2021_Code,Der_Dupe_Flag,NHS_Number,Person_Birth_Date,Postcode,Patient_Name")
POSTCODE_AREAS = {"E06000036": {"RG"}, "E06000037": {"RG"}, "E06000038": {"RG"}, "E06000039": {"SL"},
                  "E06000040": {"SL"}, "E06000041": {"RG"}, "E06000042": {"MK"}, "E06000060": {"HP"},
                  "E07000177": {"OX"}, "E07000178": {"OX"}, "E07000179": {"OX", "RG"}, "E07000180": {"OX"},
                  "E07000181": {"OX"}}


def ae_sites():
    return [r for r in seed_rows("ae_site") if r["pfa_code"] == "E23000029"]


def snomed_meaning(field):
    return {r["snomed_code"]: r["meaning"] for r in seed_rows("ae_snomed_code") if r["field"] == field}


def ae_deliveries(paths):
    """{(kind, site or provider, month): {revision: path}}, from the file names alone."""
    found = defaultdict(dict)
    for path in paths:
        kind, code, month, revision = AE_FILE.fullmatch(path.name).groups()
        found[kind, code, month][int(revision or 1)] = path
    return found


def latest_rows(paths, kind):
    """Each delivery's latest revision's rows, with the file's code and month."""
    rows = []
    for (k, code, month), revisions in ae_deliveries(paths).items():
        if k == kind:
            rows += [{**row, "_code": code, "_month": month} for row in read(revisions[max(revisions)])]
    return rows


@pytest.fixture(scope="module")
def istv(extracts):
    return latest_rows(extracts.ae_istv_files, "istv")


@pytest.fixture(scope="module")
def ecds(extracts):
    return latest_rows(extracts.ae_ecds_files, "ecds")


@pytest.fixture(scope="module")
def ecds_assaults(ecds):
    intent = snomed_meaning("injury_intent")
    return [r for r in ecds if intent[r["EC_Injury_Intent_SNOMED_CT"]] == "assault" and r["Der_Dupe_Flag"] != "1"]


def test_ae_files_are_named_and_laid_out_as_documented(extracts, istv, ecds, ecds_assaults):
    sites, months = ae_sites(), extracts.later_months
    providers = {s["provider_code"] for s in sites}
    resubmitted, missing = extracts.ae_resubmission, (extracts.ae_istv_missing_site, extracts.ae_istv_missing_month)
    istv_files, ecds_files = ae_deliveries(extracts.ae_istv_files), ae_deliveries(extracts.ae_ecds_files)
    assert all(p.parent == extracts.out_dir / "ae" / "istv" for p in extracts.ae_istv_files)
    assert all(p.parent == extracts.out_dir / "ae" / "ecds" for p in extracts.ae_ecds_files)
    assert set(istv_files) == {("istv", s["site_code"], m) for s in sites for m in months} - {("istv", *missing)}
    assert set(ecds_files) == {("ecds", p, m) for p in providers for m in months}
    assert {k for k, revisions in {**istv_files, **ecds_files}.items() if set(revisions) != {1}} == {
        ("istv", resubmitted.site_code, resubmitted.month), ("ecds", resubmitted.provider_code, resubmitted.month)}
    assert len(extracts.ae_istv_files) == len(sites) * len(months)          # one missing, one r2
    assert len(extracts.ae_ecds_files) == len(providers) * len(months) + 1
    for path in extracts.ae_istv_files:
        assert path.read_text().splitlines()[0] == ISTV_HEADER
    for path in extracts.ae_ecds_files:
        assert path.read_text().splitlines()[0] == ECDS_HEADER

    methods = {r["istv_code"] for r in seed_rows("ae_assault_method")}
    locations = {r["istv_code"] for r in seed_rows("ae_location_type")}
    for row in istv:
        first = date.fromisoformat(row["_month"] + "-01")
        last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
        assert row["Site Code"] == row["_code"] and row["Arrival Date"][:7] == row["_month"]
        assert (row["Reporting Period Start"], row["Reporting Period End"]) == (first.isoformat(), last.isoformat())
        assert row["Assault Method"] in methods and row["Assault Location Type"] in locations
        assert row["Assault Method Description"] and row["Assault Location Description"]
    for row in ecds:
        assert row["Der_Provider_Code"] == row["_code"] and row["Arrival_Date"][:7] == row["_month"]
        assert {row[c] for c in ("EC_Injury_Intent_SNOMED_CT", "EC_Injury_Mechanism_SNOMED_CT",
                                 "EC_Place_Of_Injury_SNOMED_CT")} <= {r["snomed_code"] for r in seed_rows("ae_snomed_code")}
    idents = Counter((r["Der_Provider_Code"], r["EC_Ident"]) for r in ecds)
    assert max(idents.values()) == 1                                  # unique per provider, across the year
    intents = Counter(snomed_meaning("injury_intent")[r["EC_Injury_Intent_SNOMED_CT"]] for r in ecds)
    assert set(intents) == {"assault", "self_harm", "accident"} and intents["assault"] > 0.6 * len(ecds)
    assert 2_500 <= len(ecds_assaults) <= 3_500                       # Thames Valley's scale
    assert 0 < sum(r["Der_Dupe_Flag"] == "1" for r in ecds) < 0.02 * len(ecds)
    assert 0.2 < sum(r["EC_Place_Of_Injury_Latitude"] == "" for r in ecds) / len(ecds) < 0.4


def nhs_number_valid(number: str) -> bool:
    if not re.fullmatch(r"\d{10}", number):
        return False
    check = 11 - sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True)) % 11
    return check != 10 and int(number[9]) == check % 11


def test_ae_identifiers_are_valid_consistent_and_some_patients_return(extracts, ecds):
    lad_of = {r["LSOA21CD"]: r["LAD24CD"] for r in read(extracts.lookup_files["lsoa21_lad"])}
    assert nhs_number_valid("9434765919") and not nhs_number_valid("9434765918")   # NHS Digital's own example
    for row in ecds:
        assert nhs_number_valid(row["NHS_Number"]), row["EC_Ident"]
        born, arrived = date.fromisoformat(row["Person_Birth_Date"]), date.fromisoformat(row["Arrival_Date"])
        assert int(row["Age_At_Arrival"]) == (arrived.year - born.year
                                              - ((arrived.month, arrived.day) < (born.month, born.day)))
        outward, inward = row["Postcode"].split(" ")
        assert re.fullmatch(r"\d[A-Z]{2}", inward)
        assert re.fullmatch(r"[A-Z]{2}\d{1,2}", outward)[0][:2] in POSTCODE_AREAS[lad_of[row["Der_Postcode_LSOA_2021_Code"]]]
        if lad_of[row["Der_Postcode_LSOA_2021_Code"]] == "E07000178":
            assert outward in {"OX1", "OX2", "OX3", "OX4"}
        assert row["Sex"] in {"1", "2", "9"} and len(row["Patient_Name"].split()) == 2

    people = defaultdict(set)
    for row in ecds:
        if row["Der_Dupe_Flag"] != "1":
            people[row["NHS_Number"]].add((row["Patient_Name"], row["Person_Birth_Date"], row["EC_Ident"]))
    assert all(len({(name, born) for name, born, _ in visits}) == 1 for visits in people.values())
    assert sum(len(visits) > 1 for visits in people.values()) >= 50      # repeat attendances


def test_ae_residents_attend_their_nearest_site(extracts, ecds):
    centroid = {r["LSOA21CD"]: (float(r["x"]), float(r["y"])) for r in read(extracts.lookup_files["lsoa21_centroid"])}
    sites = ae_sites()

    def nearest_provider(lsoa):
        x, y = centroid[lsoa]
        return min(sites, key=lambda s: ((float(s["longitude"]) - x) * 0.62) ** 2 + (float(s["latitude"]) - y) ** 2
                   )["provider_code"]

    assert all(nearest_provider(r["Der_Postcode_LSOA_2021_Code"]) == r["Der_Provider_Code"] for r in ecds)


def test_ae_istv_rows_are_the_ecds_assaults_coded_alike(extracts, istv, ecds_assaults):
    mechanism, place = snomed_meaning("injury_mechanism"), snomed_meaning("place_of_injury")
    method = {r["istv_code"]: r for r in seed_rows("ae_assault_method")}
    location = {r["istv_code"]: r["location_type"] for r in seed_rows("ae_location_type")}
    by_ref = {r["EC_Ident"]: r for r in ecds_assaults}
    missing_site, missing_month = extracts.ae_istv_missing_site, extracts.ae_istv_missing_month
    istv_refs = {r["Attendance Reference"] for r in istv}
    not_in_istv = {ref for ref, r in by_ref.items() if ref not in istv_refs}
    assert not_in_istv and all(ref.startswith(missing_site) and by_ref[ref]["_month"] == missing_month
                               for ref in not_in_istv)
    assert len(istv) == len(istv_refs) == len(by_ref) - len(not_in_istv)
    for row in istv:
        e = by_ref[row["Attendance Reference"]]
        assert (row["Arrival Date"], row["Arrival Time"]) == (e["Arrival_Date"], e["Arrival_Time"][:5])
        assert (row["Assault Date"], row["Assault Time"]) == (e["EC_Injury_Date"], e["EC_Injury_Time"][:5])
        m = method[row["Assault Method"]]
        assert (m["is_sharp_object"] == "true") == (mechanism[e["EC_Injury_Mechanism_SNOMED_CT"]] == "sharp_object")
        assert (m["is_firearm"] == "true") == (mechanism[e["EC_Injury_Mechanism_SNOMED_CT"]] == "firearm")
        assert location[row["Assault Location Type"]] in {place[e["EC_Place_Of_Injury_SNOMED_CT"]], "workplace"}


def weekend_night(day: str, time: str) -> bool:
    """22:00–03:59 of a Friday or Saturday night (01:00 on a Saturday belongs to Friday night)."""
    shifted = datetime.fromisoformat(f"{day}T{time}") - timedelta(hours=4)
    return shifted.weekday() in (4, 5) and shifted.hour >= 18


def test_ae_friday_and_saturday_night_peak(istv, ecds):
    share = sum(weekend_night(r["Arrival Date"], r["Arrival Time"]) for r in istv) / len(istv)
    assert share >= 0.35                  # 12 of the week's 168 hours: ~7% if uniform
    intent = snomed_meaning("injury_intent")
    others = [r for r in ecds if intent[r["EC_Injury_Intent_SNOMED_CT"]] != "assault"]
    assert sum(weekend_night(r["Arrival_Date"], r["Arrival_Time"]) for r in others) / len(others) < 0.15


def test_ae_sharp_object_assaults_concentrate_in_ages_15_to_24(extracts, ecds_assaults):
    population = read(extracts.population_files[0])
    young_residents = sum(int(r[f"{s}{a}"]) for r in population for s in "FM" for a in range(15, 25))
    assert young_residents / sum(int(r["Total"]) for r in population) < 0.2
    mechanism = snomed_meaning("injury_mechanism")
    sharp = [r for r in ecds_assaults if mechanism[r["EC_Injury_Mechanism_SNOMED_CT"]] == "sharp_object"]
    assert len(sharp) > 100
    assert sum(15 <= int(r["Age_At_Arrival"]) <= 24 for r in sharp) / len(sharp) >= 0.5


def test_ae_nighttime_economy_hotspot_is_where_licensed_premises_assaults_cluster(extracts, istv, ecds_assaults):
    centroids = read(extracts.lookup_files["lsoa21_centroid"])
    codes = [r["LSOA21CD"] for r in centroids]
    xy = np.array([(float(r["x"]), float(r["y"])) for r in centroids])
    place = snomed_meaning("place_of_injury")
    licensed = [r for r in ecds_assaults if place[r["EC_Place_Of_Injury_SNOMED_CT"]] == "licensed_premises"
                and r["EC_Place_Of_Injury_Latitude"]]
    points = np.array([(float(r["EC_Place_Of_Injury_Longitude"]), float(r["EC_Place_Of_Injury_Latitude"]))
                       for r in licensed])
    nearest = np.argmin(((points[:, None, :] - xy[None]) ** 2).sum(axis=2), axis=1)
    (top, top_count), (_, second_count) = Counter(codes[i] for i in nearest).most_common(2)
    assert top == extracts.ae_nighttime_hotspot_lsoa21_code
    assert top_count >= 30 and top_count >= 10 * second_count
    lad_of = {r["LSOA21CD"]: r["LAD24CD"] for r in read(extracts.lookup_files["lsoa21_lad"])}
    assert lad_of[top] in {"E07000178", "E06000038"}                 # Oxford or Reading
    licensed_type = next(r["istv_code"] for r in seed_rows("ae_location_type") if r["location_type"] == "licensed_premises")
    at_hotspot = {r["EC_Ident"] for r, i in zip(licensed, nearest, strict=True) if codes[i] == top}
    assert {r["Assault Location Type"] for r in istv if r["Attendance Reference"] in at_hotspot} == {licensed_type}


def test_ae_resubmission_replaces_the_first_delivery(extracts):
    r = extracts.ae_resubmission
    for kind, code, ref, counts in [("istv", r.site_code, "Attendance Reference", (r.istv_rows, r.istv_rows_r2)),
                                    ("ecds", r.provider_code, "EC_Ident", (r.ecds_rows, r.ecds_rows_r2))]:
        revisions = ae_deliveries(getattr(extracts, f"ae_{kind}_files"))[kind, code, r.month]
        first, second = ({row[ref]: row for row in read(revisions[n])} for n in (1, 2))
        assert (len(first), len(second)) == counts and counts[1] == counts[0] + 1
        assert set(second) - set(first) == {r.added_ref} and set(first) <= set(second)
        assert {k for k in first if first[k] != second[k]} == set(r.corrected_refs) and len(r.corrected_refs) == 2
        # the latest delivery counts once: the month holds r2's rows, never both deliveries'
        assert len({**first, **second}) == len(second)


def test_ae_site_that_did_not_submit_has_no_istv_file_but_ecds_rows(extracts, ecds_assaults):
    site, month = extracts.ae_istv_missing_site, extracts.ae_istv_missing_month
    assert (site, month) != (extracts.ae_resubmission.site_code, extracts.ae_resubmission.month)
    assert not (extracts.out_dir / "ae" / "istv" / f"istv-{site}-{month}.csv").exists()
    assert not [p for p in extracts.ae_istv_files if p.name.startswith(f"istv-{site}-{month}")]
    assert sum(r["EC_Ident"].startswith(site) and r["_month"] == month for r in ecds_assaults) > 5


# --- DfE suspensions and permanent exclusions, schools register (SOURCES.md §2) ---

DFE_LA_HEADER = ("time_identifier,time_period,geographic_level,country_code,country_name,region_code,region_name,"
                 "old_la_code,new_la_code,la_name,education_phase,num_schools,headcount,perm_excl,perm_excl_rate,"
                 "suspension,susp_rate,one_plus_susp,one_plus_susp_rate")
DFE_LAS = {"E06000060": "825", "E06000042": "826", "E10000025": "931", "E06000036": "867", "E06000037": "869",
           "E06000038": "870", "E06000039": "871", "E06000040": "868", "E06000041": "872"}
DFE_PHASES = ("State-funded primary", "State-funded secondary", "Special")
DFE_COUNTS = ("headcount", "perm_excl", "suspension", "one_plus_susp")
OXFORDSHIRE_DISTRICTS = {"E07000177", "E07000178", "E07000179", "E07000180", "E07000181"}


def dfe_file(extracts, name):
    return next(p for p in extracts.dfe_files if p.name == name)


def dfe_area(row):
    return row["new_la_code"] or row["region_code"] or row["country_code"]


def test_dfe_release_files_add_up_and_carry_the_planted_symbols(extracts):
    assert sorted(p.name for p in extracts.dfe_files) == ["edubase_schools.csv", "exc_nat_region_la.csv",
                                                          "exc_reason_la.csv", "exc_school.csv"]
    assert all(p.parent == extracts.out_dir / "dfe" and p.exists() for p in extracts.dfe_files)
    assert dfe_file(extracts, "exc_nat_region_la.csv").read_text().splitlines()[0] == DFE_LA_HEADER
    rows = read(dfe_file(extracts, "exc_nat_region_la.csv"))
    by = {(dfe_area(r), r["time_period"], r["education_phase"]): r for r in rows}
    assert len(by) == len(rows) == 2 * 11 * 4
    assert {r["new_la_code"]: r["old_la_code"] for r in rows if r["new_la_code"]} == DFE_LAS
    # the planted suppressed cell: a `c`, never a zero, and Total rows always numbers
    assert [k for k, r in by.items() if "c" in (r["perm_excl"], r["perm_excl_rate"])] == [
        ("E06000039", "202223", "Special")] == [extracts.dfe_planted.suppressed_cell[:3]]
    assert by["E06000039", "202223", "Special"]["perm_excl_rate"] == "c"
    for r in rows:
        numbers = {m: int(r[m]) for m in DFE_COUNTS if r[m] != "c"}
        for m, rate in (("perm_excl", "perm_excl_rate"), ("suspension", "susp_rate"),
                        ("one_plus_susp", "one_plus_susp_rate")):
            if m in numbers:
                assert float(r[rate]) == round(100 * numbers[m] / numbers["headcount"], 5)
        assert numbers["one_plus_susp"] <= numbers["suspension"]
    for (area, year, phase), total in by.items():
        if phase == "Total":
            for m in DFE_COUNTS:
                cells = [by[area, year, p][m] for p in DFE_PHASES]
                published = sum(int(c) for c in cells if c != "c")
                if "c" in cells:                # the suppressed phase had exclusions: the Total says so
                    assert int(total[m]) > published, (area, year, m)
                else:
                    assert int(total[m]) == published, (area, year, m)
    # England and the South East hold authorities the demo does not have
    for year in ("202223", "202324"):
        for phase in ("Total", *DFE_PHASES):
            for m in ("headcount", "suspension", "one_plus_susp"):
                tv_sum = sum(int(by[la, year, phase][m]) for la in DFE_LAS)
                assert int(by["E92000001", year, phase][m]) > int(by["E12000008", year, phase][m]) > tv_sum
    england = by["E92000001", "202324", "Total"]
    assert 8_000_000 < int(england["headcount"]) < 9_000_000 and 9_000 < int(england["perm_excl"]) < 12_000
    assert 850_000 < int(england["suspension"]) < 1_050_000
    assert 1_300_000 < int(by["E12000008", "202324", "Total"]["headcount"]) < 1_500_000

    # school rows add up exactly to their authority's, phase by phase; only perm_excl is suppressed
    schools = read(dfe_file(extracts, "exc_school.csv"))
    assert {r["geographic_level"] for r in schools} == {"School"}
    assert {r["time_identifier"] for r in schools} == {"Academic year"}
    sums, suppressed = defaultdict(Counter), Counter()
    for r in schools:
        assert re.fullmatch(r"1\d{5}", r["school_urn"]) and r["school_laestab"] == r["old_la_code"] + r["estab"]
        key = (r["new_la_code"], r["time_period"], r["education_phase"])
        for m in DFE_COUNTS:
            if r[m] in ("x", "c"):
                suppressed[r[m]] += 1
                assert m == "perm_excl" and r["perm_excl_rate"] == r[m]
            else:
                sums[key][m] += int(r[m])
    assert suppressed["x"] > 0 and suppressed["c"] > 0
    assert all(8 <= len({r["school_urn"] for r in schools if r["new_la_code"] == la}) <= 15 for la in DFE_LAS)
    for key, row in by.items():
        if key[0] in DFE_LAS and key[2] != "Total":
            for m in ("headcount", "suspension", "one_plus_susp"):
                assert sums[key][m] == int(row[m]), (key, m)
            if row["perm_excl"] != "c":
                assert sums[key]["perm_excl"] <= int(row["perm_excl"])   # less the schools' x
            assert int(row["num_schools"]) == len({r["school_urn"] for r in schools if
                                                   (r["new_la_code"], r["time_period"], r["education_phase"]) == key})

    # reasons add up to the Total row's exclusions; the planted weapon `x`
    reasons = read(dfe_file(extracts, "exc_reason_la.csv"))
    codes = [r["reason_code"] for r in seed_rows("dfe_exclusion_reason")]
    assert {r["education_phase"] for r in reasons} == {"Total"} and len(reasons) == 2 * 11
    assert list(reasons[0])[11:] == [f"{k}_{'physical_pupils' if c == 'physical_pupil' else c}"
                                     for k in ("perm", "susp") for c in codes]
    planted = [(r["new_la_code"], r["time_period"], c) for r in reasons for c, v in r.items() if v == "x"]
    assert planted == [("E06000036", "202324", "perm_offensive_weapon")] == [extracts.dfe_planted.weapon_x]
    for r in reasons:
        total = by[dfe_area(r), r["time_period"], "Total"]
        for kind, measure in (("perm", "perm_excl"), ("susp", "suspension")):
            counted = sum(int(v) for c, v in r.items() if c.startswith(kind + "_") and v != "x")
            missing = int(total[measure]) - counted
            assert missing == 0 or ((kind, r["new_la_code"], r["time_period"]) == ("perm", "E06000036", "202324")
                                    and missing in (1, 2))
    nation = next(r for r in reasons if r["geographic_level"] == "National" and r["time_period"] == "202324")
    susp, perm = int(england["suspension"]), int(england["perm_excl"])
    assert 0.10 <= int(nation["susp_physical_pupils"]) / susp <= 0.15
    assert 0.08 <= int(nation["susp_physical_adult"]) / susp <= 0.10
    assert 0.01 <= int(nation["susp_offensive_weapon"]) / susp <= 0.02
    assert 0.05 <= int(nation["perm_offensive_weapon"]) / perm <= 0.08

    # the register: every demo school, each in an LSOA of its own authority, two sharing one
    register = read(dfe_file(extracts, "edubase_schools.csv"))
    lad_of = {r["LSOA21CD"]: r["LAD24CD"] for r in read(extracts.lookup_files["lsoa21_lad"])}
    la_of = {r["school_urn"]: (r["new_la_code"], r["old_la_code"], r["estab"]) for r in schools}
    assert len(register) == len(la_of) and {r["URN"] for r in register} == set(la_of)
    for r in register:
        la, old, estab = la_of[r["URN"]]
        assert (r["LA (code)"], r["EstablishmentNumber"]) == (old, estab)
        lad = lad_of[r["LSOA (code)"]]
        assert lad == la or (la == "E10000025" and lad in OXFORDSHIRE_DISTRICTS)
        assert datetime.strptime(r["OpenDate"], "%d-%m-%Y") < datetime(2022, 9, 1) and r["CloseDate"] == ""
        assert re.fullmatch(r"[A-Z]{2}\d{1,2} \d[A-Z]{2}", r["Postcode"])
    shared = [lsoa for lsoa, n in Counter(r["LSOA (code)"] for r in register).items() if n > 1]
    assert extracts.dfe_planted.shared_lsoa21_code in shared


def test_dfe_files_load_through_the_pipeline(extracts, tmp_path):
    from ingestion import pipeline
    from ingestion.settings import Settings

    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    loaded = {}
    for source in ("dfe-exclusions", "dfe-exclusion-reasons", "dfe-school-register"):
        report = pipeline.ingest(source, extracts.out_dir / "dfe", settings)
        assert report.rejections == []
        assert all(r.outcome == "loaded" and r.rows_quarantined == 0 for r in report.results)
        loaded |= {r.file.name: r.rows_loaded for r in report.results}
    assert set(loaded) == {p.name for p in extracts.dfe_files}
    assert loaded["edubase_schools.csv"] == len(read(dfe_file(extracts, "edubase_schools.csv")))
    assert loaded["exc_school.csv"] == len(read(dfe_file(extracts, "exc_school.csv")))
