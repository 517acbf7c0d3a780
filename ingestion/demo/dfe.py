"""Demo DfE suspensions and permanent exclusions for Thames Valley in the explore-education-
statistics layouts of SOURCES.md §2, and a schools register placing the demo's schools in LSOAs.

Writes into `<landing>/dfe/` (every file routed by its header, ingestion/sources/dfe.py):
- `exc_nat_region_la.csv`: the 2023/24 release layout, academic years 2022/23 and 2023/24, for
  England, the South East and Thames Valley's nine upper-tier authorities, each by phase (Total,
  State-funded primary, State-funded secondary, Special). Phases add up to Total; rates are the
  counts over headcount × 100 to 5 d.p., as DfE derives them. England and the South East include
  the authorities the demo does not have (their rows are the Thames Valley sums plus the rest).
- `exc_school.csv`: school-level rows of a modest set of made-up schools (8–15 per authority)
  whose headcounts and counts add up exactly to their authority's rows, phase by phase. A school's
  permanent exclusions of 1–2 are suppressed as `x` (DfE suppresses at school level only).
- `exc_reason_la.csv`: the wide by-reason file (newer layout: `perm_physical_pupils`, …,
  `susp_public_health`; reasons from seed dfe_exclusion_reason), phase Total, per-reason counts
  adding up to the Total row's perm_excl and suspension (one reason per exclusion).
- `edubase_schools.csv`: a Get Information about Schools extract, one row per demo school, each in
  a demo LSOA 2021 of its own authority (two schools share one LSOA, so an LSOA sums schools).
Planted for tests and analysts: Slough's Special perm_excl in 2022/23 is `c` (suppressed, never
zero; its Total is published), and Bracknell Forest's perm_offensive_weapon in 2023/24 is `x`.
School names and trusts are made up. Drawn from their own random stream, so adding DfE left the
police, ONS and A&E files byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingestion.codes import seed_rows
from ingestion.demo import thames_valley as tv
from ingestion.demo.ae import INWARD_LETTERS, POSTCODE_DISTRICTS
from ingestion.demo.files import write_csv

DFE_STREAM = 0xDFE                      # np.random.default_rng([seed, DFE_STREAM])
YEARS = ("202223", "202324")
PHASES = ("State-funded primary", "State-funded secondary", "Special")
TOTAL = "Total"
MEASURES = ("perm_excl", "suspension", "one_plus_susp")

AREA_HEADER = ["time_identifier", "time_period", "geographic_level", "country_code", "country_name", "region_code",
               "region_name", "old_la_code", "new_la_code", "la_name"]
LA_HEADER = [*AREA_HEADER, "education_phase", "num_schools", "headcount", "perm_excl", "perm_excl_rate",
             "suspension", "susp_rate", "one_plus_susp", "one_plus_susp_rate"]
SCHOOL_HEADER = [*AREA_HEADER, "estab", "school_laestab", "school_urn", "school_name", "trust_name", "academy_type",
                 "academy_open_date", "education_phase", "headcount", "perm_excl", "perm_excl_rate", "suspension",
                 "susp_rate", "one_plus_susp", "one_plus_susp_rate"]
REGISTER_HEADER = ["URN", "LA (code)", "LA (name)", "EstablishmentNumber", "EstablishmentName",
                   "TypeOfEstablishment (name)", "PhaseOfEducation (name)", "OpenDate", "CloseDate", "Postcode",
                   "LSOA (code)", "LSOA (name)"]


@dataclass(frozen=True)
class DfeLa:
    code: str
    name: str
    old_code: str                          # DfE's three-digit LA number (lookups/las.csv)
    headcount: tuple[int, int, int]        # 2023/24 pupils: primary, secondary, special
    schools: int                           # demo schools (real authorities have far more)


# Thames Valley's upper-tier authorities; headcounts near their real state-funded pupil numbers
LAS: tuple[DfeLa, ...] = (
    DfeLa("E06000060", "Buckinghamshire", "825", (46_500, 39_000, 1_900), 15),
    DfeLa("E06000042", "Milton Keynes", "826", (28_800, 20_500, 1_250), 13),
    DfeLa("E10000025", "Oxfordshire", "931", (56_000, 41_500, 1_450), 15),
    DfeLa("E06000036", "Bracknell Forest", "867", (10_500, 7_900, 350), 8),
    DfeLa("E06000037", "West Berkshire", "869", (12_800, 10_600, 300), 9),
    DfeLa("E06000038", "Reading", "870", (13_400, 9_600, 320), 10),
    DfeLa("E06000039", "Slough", "871", (15_800, 13_700, 420), 10),
    DfeLa("E06000040", "Windsor and Maidenhead", "868", (12_000, 9_300, 250), 9),
    DfeLa("E06000041", "Wokingham", "872", (14_600, 11_800, 280), 10),
)

# England by phase and year: headcount, schools, and rates per 100 pupils (perm, suspension, one or
# more suspensions); 2023/24 near the published 8.4 M pupils, 10,885 exclusions, 954,952 suspensions
ENGLAND = {
    "202223": {"headcount": (4_640_000, 3_620_000, 157_000), "schools": (16_800, 3_440, 1_040),
               "rates": ((0.026, 2.10, 0.85), (0.220, 18.5, 6.70), (0.060, 11.5, 4.30))},
    "202324": {"headcount": (4_600_000, 3_680_000, 165_000), "schools": (16_750, 3_450, 1_050),
               "rates": ((0.030, 2.50, 1.00), (0.255, 22.2, 7.80), (0.065, 13.0, 4.80))},
}
SOUTH_EAST = {"202223": {"headcount": (768_000, 590_000, 28_500), "schools": (2_270, 395, 145)},
              "202324": {"headcount": (760_000, 600_000, 30_000), "schools": (2_260, 400, 150)}}
SOUTH_EAST_RATE_FACTOR = (1.05, 1.08, 1.05)        # perm, suspension, one or more

# of each kind of exclusion, the share given each reason (2023/24-like national shares)
REASON_SHARE = {
    "perm": {"physical_pupil": 0.13, "physical_adult": 0.10, "verbal_pupil": 0.03, "verbal_adult": 0.08,
             "bullying": 0.005, "racist_abuse": 0.005, "sexual_misconduct": 0.02, "drug_alcohol": 0.10,
             "damage": 0.02, "theft": 0.01, "persistent_disruptive": 0.38, "other": 0.05,
             "abuse_disability": 0.001, "abuse_sex_gender": 0.003, "media_technology": 0.005,
             "offensive_weapon": 0.065, "public_health": 0.001},
    "susp": {"physical_pupil": 0.12, "physical_adult": 0.09, "verbal_pupil": 0.03, "verbal_adult": 0.12,
             "bullying": 0.01, "racist_abuse": 0.015, "sexual_misconduct": 0.005, "drug_alcohol": 0.03,
             "damage": 0.025, "theft": 0.006, "persistent_disruptive": 0.48, "other": 0.05,
             "abuse_disability": 0.002, "abuse_sex_gender": 0.006, "media_technology": 0.008,
             "offensive_weapon": 0.015, "public_health": 0.0005},
}

# planted: a suppressed (c) authority cell in a non-Total phase, and a suppressed (x) weapon count
SUPPRESSED_CELL = ("E06000039", "202223", "Special", "perm_excl")          # Slough
WEAPON_X = ("E06000036", "202324", "perm_offensive_weapon")                  # Bracknell Forest
SHARED_LSOA_LA = "E06000038"                                                  # two Reading schools share an LSOA

SCHOOL_NAMES = ["Alder Meadow", "Beechcombe", "Brambleford", "Cedar Ridge", "Chalkdown", "Coppice Vale",
                "Damsonfield", "Elderbrook", "Fernhollow", "Foxcote Lane", "Gorsewood", "Hazel Combe",
                "Hollyfield Rise", "Juniper Vale", "Kestrel Fields", "Larchmere", "Linden Brook", "Maplestead",
                "Nutwood Green", "Oakhollow", "Osier Bank", "Poppyfield", "Quarry Wood", "Reedmere",
                "Rowan Combe", "Sallowbrook", "Sedgefield Park", "Sorrel Down", "Teasel Vale", "Thornbury Mead",
                "Wayfarer", "Whitebeam", "Willowmere", "Wrenfield", "Yew Tree Vale", "Larkwood Rise"]
TRUSTS = ["Kestrel Learning Trust", "Riverbend Education Partnership", "Chalkdown Academies Trust",
          "Willowmere Schools Trust", "Three Shires Learning Trust"]
# GIAS establishment types: (type, academy?) by phase
TYPES = {
    "State-funded primary": [("Community school", False), ("Voluntary aided school", False),
                             ("Voluntary controlled school", False), ("Academy converter", True),
                             ("Academy sponsor led", True), ("Free schools", True)],
    "State-funded secondary": [("Community school", False), ("Foundation school", False),
                               ("Academy converter", True), ("Academy converter", True),
                               ("Academy sponsor led", True), ("Free schools", True)],
    "Special": [("Community special school", False), ("Academy special converter", True)],
}
GIAS_PHASE = {"State-funded primary": "Primary", "State-funded secondary": "Secondary", "Special": "Not applicable"}
NAME_SUFFIX = {  # by phase, for a maintained school and an academy
    "State-funded primary": (["Primary School", "Infant and Junior School", "C of E Primary School"],
                             ["Primary Academy", "Primary School"]),
    "State-funded secondary": (["School", "Community College"], ["Academy", "School"]),
    "Special": (["School"], ["Academy", "School"]),
}
ESTAB_BASE = {"State-funded primary": 2000, "State-funded secondary": 4000, "Special": 7000}


@dataclass(frozen=True)
class School:
    la: DfeLa
    phase: str
    estab: str
    urn: str
    name: str
    establishment_type: str
    academy: bool
    trust: str
    open_date: tuple[int, int, int]          # year, month, day
    lsoa_code: str
    lsoa_name: str
    postcode: str


@dataclass(frozen=True)
class DfeFiles:
    files: list[Path] = field(default_factory=list)     # exclusions, school-level, by-reason, register
    suppressed_cell: tuple[str, str, str, str] = SUPPRESSED_CELL
    weapon_x: tuple[str, str, str] = WEAPON_X
    shared_lsoa21_code: str = ""                        # two schools are in it


def write_extracts(out_dir: Path, lsoa_code: list[str], lsoa_name: list[str], lad_index: np.ndarray,
                   rng: np.random.Generator) -> DfeFiles:
    """The DfE release files and the schools register under out_dir/dfe (see the module docstring)."""
    folder = Path(out_dir) / "dfe"
    schools, shared = _schools(lsoa_code, lsoa_name, lad_index, rng)
    la_counts = _la_counts(rng)
    school_counts = _school_counts(schools, la_counts, rng)
    areas = _area_counts(la_counts, rng)
    reasons = _reasons(la_counts, areas, rng)

    files = [
        write_csv(folder / "exc_nat_region_la.csv", LA_HEADER, _la_rows(areas, la_counts, schools)),
        write_csv(folder / "exc_school.csv", SCHOOL_HEADER, _school_rows(schools, school_counts)),
        write_csv(folder / "exc_reason_la.csv",
                  [*AREA_HEADER, "education_phase", *[_reason_header(k, r) for k in REASON_SHARE for r in _codes()]],
                  _reason_rows(reasons)),
        write_csv(folder / "edubase_schools.csv", REGISTER_HEADER, _register_rows(schools)),
    ]
    return DfeFiles(files, shared_lsoa21_code=shared)


def _codes() -> list[str]:
    return [r["reason_code"] for r in seed_rows("dfe_exclusion_reason")]


def _reason_header(kind: str, code: str) -> str:
    return f"{kind}_physical_pupils" if code == "physical_pupil" else f"{kind}_{code}"   # as newer releases


def _rate(count: int, headcount: int) -> str:
    return f"{100 * count / headcount:.5f}" if headcount else "z"


# --- schools ---

def _schools(lsoa_code, lsoa_name, lad_index, rng) -> tuple[list[School], str]:
    """Each authority's demo schools (about a third secondary, one or two special), each in an LSOA
    of its authority; the shared-LSOA authority's second school in its first school's LSOA."""
    lad_codes = [lad.code for lad in tv.LADS]
    urns = iter(rng.permutation(np.arange(100_000, 140_000))[:200])        # maintained schools: 10xxxx–13xxxx
    academy_urns = iter(rng.permutation(np.arange(140_000, 150_000))[:200])
    schools, shared = [], ""
    for la in LAS:
        districts = {c for c, (county, _) in tv.COUNTY_OF.items() if county == la.code} or {la.code}
        lsoas = np.flatnonzero(np.isin(np.array(lad_codes)[lad_index], sorted(districts)))
        chosen = rng.choice(lsoas, la.schools, replace=False)
        if la.code == SHARED_LSOA_LA:
            chosen[1] = chosen[0]
            shared = lsoa_code[chosen[0]]
        special = 2 if la.schools >= 13 else 1
        secondary = round((la.schools - special) * 0.4)
        phases = ["State-funded primary"] * (la.schools - special - secondary) + \
                 ["State-funded secondary"] * secondary + ["Special"] * special
        estabs = {p: iter(sorted(rng.choice(np.arange(ESTAB_BASE[p], ESTAB_BASE[p] + 600), phases.count(p),
                                            replace=False))) for p in PHASES}
        names = iter(rng.choice(len(SCHOOL_NAMES), la.schools, replace=False))    # none twice in an authority
        for phase, lsoa in zip(phases, chosen, strict=True):
            kind, academy = TYPES[phase][int(rng.integers(0, len(TYPES[phase])))]
            if academy:
                opened = (int(rng.integers(2011, 2022)), int(rng.choice([1, 4, 9, 9, 9])), 1)
            else:
                opened = (int(rng.integers(1955, 2006)), 9, 1)
            suffixes = NAME_SUFFIX[phase][academy]
            suffix = suffixes[int(rng.integers(0, len(suffixes)))]
            district = tv.LADS[lad_index[lsoa]].name
            outward = POSTCODE_DISTRICTS[district][int(rng.integers(0, len(POSTCODE_DISTRICTS[district])))]
            inward = f"{rng.integers(0, 10)}{''.join(rng.choice(INWARD_LETTERS, 2))}"
            schools.append(School(
                la, phase, f"{next(estabs[phase]):04d}", str(next(academy_urns if academy else urns)),
                f"{SCHOOL_NAMES[next(names)]} {suffix}", kind, academy,
                TRUSTS[int(rng.integers(0, len(TRUSTS)))] if academy else "", opened,
                lsoa_code[lsoa], lsoa_name[lsoa], f"{outward} {inward}"))
    return schools, shared


# --- counts ---

def _la_counts(rng) -> dict[tuple[str, str, str], dict[str, int]]:
    """{(la code, year, phase): {headcount, perm_excl, suspension, one_plus_susp}} for the three
    phases: Poisson draws around England's rates times each authority's own level."""
    counts = {}
    for la in LAS:
        perm_level, susp_level = rng.lognormal(0, 0.25, 2)
        for year in YEARS:
            for p, phase in enumerate(PHASES):
                headcount = la.headcount[p]
                if year != "202324":      # the year before: England's change by phase, and a little noise
                    change = ENGLAND[year]["headcount"][p] / ENGLAND["202324"]["headcount"][p]
                    headcount = int(round(headcount * change * (1 + rng.normal(0, 0.01))))
                perm_rate, susp_rate, one_plus_rate = ENGLAND[year]["rates"][p]
                perm = int(rng.poisson(headcount * perm_rate / 100 * perm_level))
                one_plus = int(rng.poisson(headcount * one_plus_rate / 100 * susp_level ** 0.8))
                suspension = max(one_plus, int(rng.poisson(headcount * susp_rate / 100 * susp_level)))
                one_plus = max(one_plus, min(suspension, 1))   # a suspension is of at least one pupil
                if (la.code, year, phase) == SUPPRESSED_CELL[:3]:
                    perm = 1                                   # what the `c` hides: small, never zero
                counts[la.code, year, phase] = {"headcount": headcount, "perm_excl": perm, "suspension": suspension,
                                                "one_plus_susp": one_plus}
    return counts


def _area_counts(la_counts, rng) -> dict[tuple[str, str, str], dict[str, int]]:
    """{("England" | "South East", year, phase): counts}: the Thames Valley sums plus the rest of
    the region's (and then the rest of England's) pupils at the region's (England's) rates."""
    areas = {}
    for year in YEARS:
        for p, phase in enumerate(PHASES):
            tv_sum = {m: sum(la_counts[la.code, year, phase][m] for la in LAS) for m in ("headcount", *MEASURES)}
            rates = ENGLAND[year]["rates"][p]
            south_east = _plus_the_rest(tv_sum, SOUTH_EAST[year]["headcount"][p],
                                        [r * f for r, f in zip(rates, SOUTH_EAST_RATE_FACTOR, strict=True)], rng)
            areas["South East", year, phase] = south_east
            areas["England", year, phase] = _plus_the_rest(south_east, ENGLAND[year]["headcount"][p], rates, rng)
    return areas


def _plus_the_rest(part: dict[str, int], headcount: int, rates, rng) -> dict[str, int]:
    rest = headcount - part["headcount"]
    assert rest > 0, "the wider area must have pupils beyond the part"
    perm, suspension, one_plus = (int(rng.poisson(rest * r / 100)) for r in rates)
    return {"headcount": headcount, "perm_excl": part["perm_excl"] + perm,
            "suspension": part["suspension"] + max(suspension, one_plus),
            "one_plus_susp": part["one_plus_susp"] + one_plus}


def _split(total: int, weights: np.ndarray, rng) -> np.ndarray:
    if total == 0 or weights.sum() == 0:
        return np.zeros(len(weights), int)
    return rng.multinomial(total, weights / weights.sum())


def _school_counts(schools: list[School], la_counts, rng) -> dict[tuple[str, str], dict[str, int]]:
    """{(urn, year): counts}: each authority-phase's headcount and counts shared out exactly among
    its schools (by size, and each school's own propensity to exclude); a school's suspensions are
    at least its pupils with one or more."""
    size = {s.urn: rng.gamma(8, 1) for s in schools}
    propensity = {s.urn: rng.lognormal(0, 0.5) for s in schools}
    counts = {}
    for la in LAS:
        for year in YEARS:
            for phase in PHASES:
                mine = [s for s in schools if s.la is la and s.phase == phase]
                la_row = la_counts[la.code, year, phase]
                heads = _split(la_row["headcount"], np.array([size[s.urn] * (1 + rng.normal(0, 0.02)) for s in mine]),
                               rng)
                pull = heads * np.array([propensity[s.urn] for s in mine])
                perm = _split(la_row["perm_excl"], pull, rng)
                one_plus = _split(la_row["one_plus_susp"], pull, rng)
                repeats = _split(la_row["suspension"] - la_row["one_plus_susp"], one_plus.astype(float), rng)
                for i, s in enumerate(mine):
                    counts[s.urn, year] = {"headcount": int(heads[i]), "perm_excl": int(perm[i]),
                                           "suspension": int(one_plus[i] + repeats[i]),
                                           "one_plus_susp": int(one_plus[i])}
    return counts


def _reasons(la_counts, areas, rng) -> dict[tuple[str, str], dict[str, int]]:
    """{(area, year): {perm_<reason>: n, susp_<reason>: n}} of the Total phase, one reason per
    exclusion; the region and England are the authorities' reasons plus the rest's."""
    codes = _codes()
    share = {k: np.array([REASON_SHARE[k][c] for c in codes]) for k in REASON_SHARE}
    measure = {"perm": "perm_excl", "susp": "suspension"}
    reasons = {}
    for year in YEARS:
        parts = {}
        for la in LAS:
            row = {}
            for kind in REASON_SHARE:
                total = sum(la_counts[la.code, year, p][measure[kind]] for p in PHASES)
                row |= {f"{kind}_{c}": int(n) for c, n in zip(codes, _split(total, share[kind], rng), strict=True)}
            if (la.code, year) == WEAPON_X[:2]:                # what the `x` hides: 1 or 2
                kind, reason = WEAPON_X[2].split("_", 1)
                hidden = min(max(row[WEAPON_X[2]], 1), 2)
                row[f"{kind}_persistent_disruptive"] += row[WEAPON_X[2]] - hidden
                row[WEAPON_X[2]] = hidden
            reasons[la.code, year] = row
            parts[la.code] = row
        for area in ("South East", "England"):
            row = {}
            for kind in REASON_SHARE:
                total = sum(areas[area, year, p][measure[kind]] for p in PHASES)
                already = np.array([sum(part[f"{kind}_{c}"] for part in parts.values()) for c in codes])
                rest = _split(total - int(already.sum()), share[kind], rng)
                row |= {f"{kind}_{c}": int(n) for c, n in zip(codes, already + rest, strict=True)}
            reasons[area, year] = row
            parts = {area: row}                                # England: the region plus the rest
    return reasons


# --- rows ---

def _area_columns(area: str | DfeLa, year: str, level: str | None = None) -> list[str]:
    england = ["Academic year", year]
    if area == "England":
        return [*england, level or "National", tv.COUNTRY_CODE, tv.COUNTRY_NAME, "", "", "", "", ""]
    region = [tv.COUNTRY_CODE, tv.COUNTRY_NAME, tv.REGION_CODE, tv.REGION_NAME]
    if area == "South East":
        return [*england, level or "Regional", *region, "", "", ""]
    return [*england, level or "Local authority", *region, area.old_code, area.code, area.name]


def _measure_cells(c: dict[str, int], hidden: dict[str, str] | None = None) -> list[str]:
    cells = [str(c["headcount"])]
    for m in MEASURES:
        symbol = (hidden or {}).get(m)
        cells += [symbol, symbol] if symbol else [str(c[m]), _rate(c[m], c["headcount"])]
    return cells


def _la_rows(areas, la_counts, schools):
    for year in YEARS:
        for area in ("England", "South East", *LAS):
            if isinstance(area, str):
                by_phase = {p: areas[area, year, p] for p in PHASES}
                where = SOUTH_EAST if area == "South East" else ENGLAND
                n_schools = dict(zip(PHASES, where[year]["schools"], strict=True))
            else:
                by_phase = {p: la_counts[area.code, year, p] for p in PHASES}
                n_schools = {p: sum(s.la is area and s.phase == p for s in schools) for p in PHASES}
            total = {m: sum(c[m] for c in by_phase.values()) for m in ("headcount", *MEASURES)}
            for phase, c in ((TOTAL, total), *by_phase.items()):
                cell = (getattr(area, "code", area), year, phase)
                hidden = {SUPPRESSED_CELL[3]: "c"} if cell == SUPPRESSED_CELL[:3] else None
                schools_n = sum(n_schools.values()) if phase == TOTAL else n_schools[phase]
                yield [*_area_columns(area, year), phase, schools_n, *_measure_cells(c, hidden)]


def _school_rows(schools, counts):
    for year in YEARS:
        for s in schools:
            c = counts[s.urn, year]
            hidden = {}
            if (s.la.code, year, s.phase) == SUPPRESSED_CELL[:3]:
                hidden["perm_excl"] = "c"                 # as its authority's cell
            elif 1 <= c["perm_excl"] <= 2:
                hidden["perm_excl"] = "x"                 # a school's 1–2 exclusions
            y, m, d = s.open_date
            yield [*_area_columns(s.la, year, "School"), s.estab, f"{s.la.old_code}{s.estab}", s.urn, s.name,
                   s.trust, s.establishment_type if s.academy else "", f"{d:02d}/{m:02d}/{y}" if s.academy else "",
                   s.phase, *_measure_cells(c, hidden)]


def _reason_rows(reasons):
    for year in YEARS:
        for area in ("England", "South East", *LAS):
            row = reasons[getattr(area, "code", area), year]
            cells = []
            for kind in REASON_SHARE:
                for code in _codes():
                    column = f"{kind}_{code}"
                    planted = (getattr(area, "code", None), year, column) == WEAPON_X
                    cells.append("x" if planted else str(row[column]))
            yield [*_area_columns(area, year), TOTAL, *cells]


def _register_rows(schools):
    for s in sorted(schools, key=lambda s: s.urn):
        y, m, d = s.open_date
        yield [s.urn, s.la.old_code, s.la.name, s.estab, s.name, s.establishment_type, GIAS_PHASE[s.phase],
               f"{d:02d}-{m:02d}-{y}", "", s.postcode, s.lsoa_code, s.lsoa_name]
