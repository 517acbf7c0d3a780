"""Demo hospital A&E assault data for Thames Valley in the layouts of docs/ae_data.md: each type 01
ED's monthly ISTV submission and each provider's monthly ECDS-style injury extract.

Residents attend the site nearest their LSOA. Assault attendances are Poisson draws around
population-proportional means by LSOA, sex and single year of age (young men most at risk, the
police files' seasonal cycle), about 3,000 a year as in Thames Valley. The ECDS extract also holds
self-harm and accidental injuries (not assaults) and a few rows the provider flags as duplicates;
the ISTV rows are the same assaults, coded to the ISTV method and location lists. ECDS rows carry
the direct identifiers a careless extract does (an NHS number in the 999 range NHS test data uses,
with a valid modulus-11 check digit; date of birth; full postcode; name), so the pseudonymisation
has something to remove. Planted for tests, and analysts, to find again:
- a Friday and Saturday night peak: ~40% of assaults arrive 22:00–03:59 on a Friday or Saturday
  night (7% of the week);
- a night-time-economy hotspot: one Oxford city-centre LSOA where most licensed-premises assaults
  of its ED's patients happened (place-of-injury coordinates near its centroid);
- knife: about two thirds of sharp-object assaults are of people aged 15–24 (~13% of residents);
- repeat victims: some patients attend again later in the year (same NHS number, name, birth date);
- one resubmission: a site-month's ISTV file and its provider's ECDS file corrected by `-r2` files
  (two rows corrected, one added), which replace the first delivery;
- one site that did not submit ISTV for one month.
Codes come from the seeds by their meaning, never restated here. Drawn from their own random
stream, so adding A&E left the police and ONS files byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from ingestion.codes import seed_rows
from ingestion.demo import thames_valley as tv
from ingestion.demo.files import write_csv

AE_STREAM = 0xAE                       # np.random.default_rng([seed, AE_STREAM])
ASSAULTS_PER_1000_A_YEAR = 1.0
OTHER_INJURIES_PER_ASSAULT = 0.35      # self-harm and accidental injuries in the ECDS extract
SELF_HARM_SHARE = 0.3                  # of those other injuries
NIGHT_TIME_ECONOMY_SHARE = 0.38        # assaults on a Friday or Saturday night, 22:00–03:59
SHARP_ODDS = {"15-24": 0.26, "other": 0.05}
REPEAT_SHARE = 0.06                    # assaults of someone who attended after an earlier one
HOTSPOT_SHARE = 0.8                    # of its ED's licensed-premises assaults
NO_PLACE_COORDINATES = 0.30
UNKNOWN_INJURY_TIME = 0.12
DUPE_SHARE = 0.005
NOT_KNOWN_SEX = 0.005
NIGHT_TIME_ECONOMY_LAD = "E07000178"   # Oxford: the hotspot is its most central LSOA
FRIDAY = 4                             # Monday 0
HOUR_WEIGHTS = np.array([4, 3, 2, 1.5, 1, 0.7, 0.7, 1, 1.5, 2, 2.5, 3, 3.5, 3.5, 3.5, 4, 4.5, 5, 5.5, 6,
                         6.5, 7, 7, 6])  # arrivals other than on a night out, by hour: evenings most

ISTV_HEADER = ["Site Code", "Reporting Period Start", "Reporting Period End", "Attendance Reference",
               "Arrival Date", "Arrival Time", "Assault Date", "Assault Time", "Assault Method",
               "Assault Method Description", "Assault Location Type", "Assault Location Description"]
ECDS_HEADER = ["EC_Ident", "Der_Provider_Code", "Arrival_Date", "Arrival_Time", "Age_At_Arrival", "Sex",
               "EC_Injury_Date", "EC_Injury_Time", "EC_Injury_Intent_SNOMED_CT", "EC_Injury_Mechanism_SNOMED_CT",
               "EC_Place_Of_Injury_SNOMED_CT", "EC_Place_Of_Injury_Latitude", "EC_Place_Of_Injury_Longitude",
               "Der_Postcode_LSOA_2021_Code", "Der_Dupe_Flag", "NHS_Number", "Person_Birth_Date", "Postcode",
               "Patient_Name"]

# where assaults happen (ISTV location types): on a Friday or Saturday night out, and otherwise
LOCATION_SHARE = {
    "night_time_economy": {"licensed_premises": 0.45, "street": 0.45, "public_transport": 0.05, "other": 0.05},
    "other": {"home": 0.32, "street": 0.33, "licensed_premises": 0.08, "school": 0.05, "public_transport": 0.05,
              "workplace": 0.07, "other": 0.10},
}
NON_SHARP_METHOD_SHARE = {"body_part": 0.80, "blunt_object": 0.14, "other_weapon": 0.05, "firearm": 0.01}
GLASS_SHARE = {"licensed_premises": 0.6, "other": 0.1}   # of sharp-object assaults, by where
OTHER_INJURY = {  # intent: (mechanism shares, place shares)
    "self_harm": ({"sharp_object": 0.5, "blunt": 0.4, "body_part": 0.1}, {"home": 0.8, "street": 0.1, "other": 0.1}),
    "accident": ({"blunt": 0.7, "body_part": 0.2, "sharp_object": 0.1},
                 {"home": 0.5, "street": 0.25, "school": 0.05, "other": 0.2}),
}
METHOD_TEXT = {
    "body_part": ["punched by stranger", "kicked while on the ground", "headbutted", "punched by partner",
                  "punched in the face by a man he did not know", "stamped on"],
    "knife": ["stabbed with kitchen knife", "stabbed in the thigh", "slashed with a blade", "stabbed in the back"],
    "glass_bottle": ["glassed in the face", "hit with a bottle", "pint glass thrown at head"],
    "blunt_object": ["hit with a bat", "struck with a metal bar", "hit with a hammer"],
    "firearm": ["gunshot wound, details not given", "shot with an air rifle"],
    "other_weapon": ["hit with a chair", "attacked with a screwdriver"],
}
LOCATION_TEXT = {
    "street": ["outside kebab shop", "on the high street", "at the bus stop", "walking home through town"],
    "licensed_premises": ["inside nightclub", "in pub beer garden", "outside bar at closing time", "in the pub"],
    "home": ["at home", "at partner's flat", "at a friend's house"],
    "school": ["school playground", "outside the school gates"],
    "public_transport": ["on the bus", "at the railway station", "on the night bus"],
    "workplace": ["at work (shop)", "at work (warehouse)"],
    "other": ["in the park", "in a car park", "not stated"],
}
FIRST_NAMES = {"female": ["Olivia", "Amelia", "Emily", "Sophie", "Jessica", "Chloe", "Aisha", "Grace", "Zara",
                          "Hannah", "Lucy", "Megan"],
               "male": ["Oliver", "Jack", "Harry", "Mohammed", "Liam", "Callum", "Tyler", "Kieran", "Daniel",
                        "Ryan", "Adam", "Josh"]}
SURNAMES = ["Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Khan", "Wilson", "Patel",
            "Thomas", "Roberts", "Johnson", "Walker", "Wright", "Ali", "Green", "Hughes", "Edwards", "Hall"]
POSTCODE_DISTRICTS = {  # outward codes of each district's towns
    "Bracknell Forest": ["RG12", "RG42"], "West Berkshire": ["RG14", "RG18", "RG19", "RG20"],
    "Reading": ["RG1", "RG2", "RG4", "RG30", "RG31"], "Slough": ["SL1", "SL2", "SL3"],
    "Windsor and Maidenhead": ["SL4", "SL6"], "Wokingham": ["RG40", "RG41", "RG5", "RG6"],
    "Milton Keynes": ["MK1", "MK3", "MK5", "MK6", "MK9", "MK10"],
    "Buckinghamshire": ["HP19", "HP20", "HP21", "HP11", "HP12", "HP13", "HP5"],
    "Cherwell": ["OX15", "OX16", "OX26"], "Oxford": ["OX1", "OX2", "OX3", "OX4"],
    "South Oxfordshire": ["OX10", "OX39", "RG9"], "Vale of White Horse": ["OX12", "OX13", "OX14"],
    "West Oxfordshire": ["OX18", "OX28", "OX29"],
}
INWARD_LETTERS = list("ABDEFGHJLNPQRSTUWXYZ")   # letters real inward codes use


@dataclass(frozen=True)
class Resubmission:
    """The corrected site-month: r2 files replace the first delivery (two rows corrected, one added)."""
    site_code: str
    provider_code: str
    month: str
    corrected_refs: tuple[str, ...]     # attendance references (= EC_Ident) whose rows r2 corrects
    added_ref: str                      # the attendance only r2 holds
    istv_rows: int
    istv_rows_r2: int
    ecds_rows: int
    ecds_rows_r2: int


@dataclass(frozen=True)
class AeExtracts:
    istv_files: list[Path]
    ecds_files: list[Path]
    nighttime_hotspot_lsoa21_code: str
    resubmission: Resubmission
    istv_missing_site: str
    istv_missing_month: str


@dataclass(frozen=True)
class _Codes:
    """The seeds' codes by meaning."""
    intent: dict[str, str]
    mechanism: dict[str, str]
    place: dict[str, str]
    location: dict[str, str]            # ISTV location type → code
    method: dict[str, str]              # ISTV assault method → code
    method_mechanism: dict[str, str]    # ISTV assault method → ECDS mechanism meaning

    @classmethod
    def from_seeds(cls) -> _Codes:
        snomed = {field: {r["meaning"]: r["snomed_code"] for r in seed_rows("ae_snomed_code") if r["field"] == field}
                  for field in ("injury_intent", "injury_mechanism", "place_of_injury")}
        methods = seed_rows("ae_assault_method")
        return cls(snomed["injury_intent"], snomed["injury_mechanism"], snomed["place_of_injury"],
                   {r["location_type"]: r["istv_code"] for r in seed_rows("ae_location_type")},
                   {r["assault_method"]: r["istv_code"] for r in methods},
                   {r["assault_method"]: _mechanism_of(r) for r in methods})

    def place_of(self, location_type: str) -> str:
        """The ECDS place of injury of an ISTV location type (ECDS has no workplace)."""
        return location_type if location_type in self.place else "other"


def _mechanism_of(method: dict[str, str]) -> str:
    if method["is_sharp_object"] == "true":
        return "sharp_object"
    if method["is_firearm"] == "true":
        return "firearm"
    return "body_part" if method["assault_method"] == "body_part" else "blunt"


@dataclass(frozen=True)
class _Attendances:
    """One row per ECDS row, as parallel arrays (meanings, turned into codes when written); the
    fields with a default are filled in by the steps that draw them."""
    month: np.ndarray
    arrival: np.ndarray                 # datetime64[s]
    site: np.ndarray                    # index of the site attended
    lsoa: np.ndarray                    # of residence
    sex: np.ndarray
    birth: np.ndarray                   # datetime64[D]
    age: np.ndarray
    nhs_number: np.ndarray
    name: np.ndarray
    postcode: np.ndarray
    intent: np.ndarray
    injury: np.ndarray = None           # datetime64[s], NaT when not known
    mechanism: np.ndarray = None
    place: np.ndarray = None
    method: np.ndarray = None           # ISTV assault method ('' unless an assault)
    method_text: np.ndarray = None
    location: np.ndarray = None         # ISTV location type ('' unless an assault)
    location_text: np.ndarray = None
    latitude: np.ndarray = None         # nan when not given
    longitude: np.ndarray = None
    serial: np.ndarray = None           # the attendance's number in its site-month
    ident: np.ndarray = None            # EC_Ident, also the ISTV attendance reference
    dupe: np.ndarray = None
    late: np.ndarray = None             # only in the resubmission

    def take(self, index: np.ndarray) -> _Attendances:
        return replace(self, **{f.name: getattr(self, f.name)[index] for f in fields(self)
                                if getattr(self, f.name) is not None})


def write_extracts(out_dir: Path, months: tuple[str, ...], lsoa_code: list[str], lad_index: np.ndarray,
                   lsoa_lon: np.ndarray, lsoa_lat: np.ndarray, age_sex: np.ndarray, season: np.ndarray,
                   rng: np.random.Generator) -> AeExtracts:
    """Every month's ISTV and ECDS files. age_sex: residents per LSOA, F0…F90 then M0…M90;
    season: each month's violence factor."""
    codes = _Codes.from_seeds()
    sites = [r for r in seed_rows("ae_site") if r["pfa_code"] == tv.PFA_CODE]
    site_of_lsoa = _nearest(lsoa_lon, lsoa_lat, np.array([float(s["longitude"]) for s in sites]),
                            np.array([float(s["latitude"]) for s in sites]))
    hotspot = _town_centre(NIGHT_TIME_ECONOMY_LAD, lad_index, lsoa_lon, lsoa_lat)

    t = _draw_attendances(months, age_sex, season, lad_index, site_of_lsoa, rng)
    t = _draw_injuries(t, codes, rng)
    t = _place_injuries(t, lsoa_lon, lsoa_lat, hotspot, site_of_lsoa[hotspot], rng)
    t = _number(t)
    resubmitted, missing = (int(s) for s in rng.choice(len(sites), 2, replace=False))
    resubmitted_month, missing_month = (int(m) for m in rng.integers(0, len(months), 2))
    method_row, location_row, added = _pick_resubmission(t, resubmitted, resubmitted_month, rng)
    t.late[added] = True
    corrected = _corrected(t, codes, method_row, location_row)
    # DUPE_SHARE of attendances are also in a second row, not those the resubmission changes
    dupes = np.flatnonzero(rng.random(len(t.month)) < DUPE_SHARE)
    dupes = dupes[~np.isin(dupes, [method_row, location_row, added])]
    site_codes = [s["site_code"] for s in sites]
    t, corrected = (_with_dupes(x, dupes, site_codes, months) for x in (t, corrected))

    istv_dir, ecds_dir = Path(out_dir) / "ae" / "istv", Path(out_dir) / "ae" / "ecds"
    providers = list(dict.fromkeys(s["provider_code"] for s in sites))
    provider_of = np.array([providers.index(s["provider_code"]) for s in sites])
    istv_files, ecds_files, counts = [], [], {}
    for m, month in enumerate(months):
        for p, provider in enumerate(providers):
            rows = (t.month == m) & (provider_of[t.site] == p)
            path = ecds_dir / f"ecds-{provider}-{month}.csv"
            ecds_files.append(write_csv(path, ECDS_HEADER, _ecds_rows(t, rows & ~t.late, sites, lsoa_code, codes)))
            if provider_of[resubmitted] == p and m == resubmitted_month:
                counts["ecds"] = (int((rows & ~t.late).sum()), int(rows.sum()))
                ecds_files.append(write_csv(path.with_name(f"ecds-{provider}-{month}-r2.csv"), ECDS_HEADER,
                                         _ecds_rows(corrected, rows, sites, lsoa_code, codes)))
        for s, site in enumerate(sites):
            if (s, m) == (missing, missing_month):
                continue                                   # this site did not submit this month
            rows = (t.month == m) & (t.site == s) & (t.intent == "assault") & ~t.dupe
            path = istv_dir / f"istv-{site['site_code']}-{month}.csv"
            istv_files.append(write_csv(path, ISTV_HEADER, _istv_rows(t, rows & ~t.late, site, month, codes)))
            if s == resubmitted and m == resubmitted_month:
                counts["istv"] = (int((rows & ~t.late).sum()), int(rows.sum()))
                istv_files.append(write_csv(path.with_name(f"istv-{site['site_code']}-{month}-r2.csv"), ISTV_HEADER,
                                         _istv_rows(corrected, rows, site, month, codes)))

    site = sites[resubmitted]
    resubmission = Resubmission(site["site_code"], site["provider_code"], months[resubmitted_month],
                                (str(t.ident[method_row]), str(t.ident[location_row])), str(t.ident[added]),
                                *counts["istv"], *counts["ecds"])
    return AeExtracts(istv_files, ecds_files, lsoa_code[hotspot], resubmission, sites[missing]["site_code"],
                      months[missing_month])


def _nearest(lon: np.ndarray, lat: np.ndarray, to_lon: np.ndarray, to_lat: np.ndarray) -> np.ndarray:
    """Index of the nearest of the `to` points (equirectangular: fine across one county)."""
    dx = (lon[:, None] - to_lon[None, :]) * np.cos(np.radians(52))
    return np.argmin(dx ** 2 + (lat[:, None] - to_lat[None, :]) ** 2, axis=1)


def _town_centre(lad_code: str, lad_index: np.ndarray, lsoa_lon: np.ndarray, lsoa_lat: np.ndarray) -> int:
    """The district's LSOA nearest the district's centre: the demo's town centre."""
    li = [lad.code for lad in tv.LADS].index(lad_code)
    in_lad = np.flatnonzero(lad_index == li)
    nearest = _nearest(np.array([tv.LADS[li].longitude]), np.array([tv.LADS[li].latitude]),
                       lsoa_lon[in_lad], lsoa_lat[in_lad])[0]
    return int(in_lad[nearest])


def _assault_risk() -> np.ndarray:
    """Relative risk of an assault attendance by sex and single year of age (F0…F90, M0…M90)."""
    by_age = np.interp(np.arange(91), [0, 10, 14, 17, 20, 25, 35, 45, 55, 65, 90],
                       [0.03, 0.05, 0.5, 2.0, 3.0, 2.8, 1.6, 1.0, 0.5, 0.15, 0.05])
    return np.concatenate([by_age, 2.3 * by_age])


def _draw_cells(means: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Poisson counts per (month, LSOA, sex-age) cell, as one row per attendance: its cell's indices."""
    counts = rng.poisson(means)
    return np.unravel_index(np.repeat(np.arange(counts.size), counts.ravel()), counts.shape)


def _draw_attendances(months, age_sex, season, lad_index, site_of_lsoa, rng) -> _Attendances:
    """Who attends, when and from where: assaults (some by repeat victims) and other injuries."""
    residents = age_sex.astype(float)
    risk = _assault_risk()
    risk = risk * residents.sum() / (residents.sum(axis=0) @ risk)      # a resident's average risk is 1
    per_month = ASSAULTS_PER_1000_A_YEAR / 1000 / 12
    season = np.asarray(season, dtype=float)[:, None, None]
    assault = _draw_cells(residents[None] * risk * per_month * season, rng)
    other = _draw_cells(np.broadcast_to(residents * per_month * OTHER_INJURIES_PER_ASSAULT,
                                        (len(months), *residents.shape)), rng)   # other injuries: no season
    is_assault = np.repeat([True, False], [len(assault[0]), len(other[0])])
    month, lsoa, cell = (np.concatenate(pair) for pair in zip(assault, other, strict=True))
    order = np.argsort(month, kind="stable")
    month, lsoa, cell, is_assault = month[order], lsoa[order], cell[order], is_assault[order]
    n = len(month)

    night_out = is_assault & (rng.random(n) < NIGHT_TIME_ECONOMY_SHARE)
    arrival = _arrivals(months, month, night_out, rng)
    age = cell % 91 + np.where(cell % 91 == 90, rng.integers(0, 8, n), 0)    # 90 is 90 and over
    birth = _birth_dates(arrival.astype("datetime64[D]"), age, rng)
    male = cell >= 91
    name, postcode, nhs_number = _identities(male, lsoa, lad_index, rng)
    person = np.arange(n)
    assaults = np.flatnonzero(is_assault)
    person[assaults] = assaults[_repeat_victims(month[assaults], len(months), rng)]

    sex = np.where(rng.random(n) < NOT_KNOWN_SEX, "9", np.where(male[person], "1", "2"))  # this attendance's
    lsoa, birth = lsoa[person], birth[person]
    return _Attendances(month, arrival, site_of_lsoa[lsoa], lsoa, sex, birth,
                        _completed_years(birth, arrival.astype("datetime64[D]")), nhs_number[person], name[person],
                        postcode[person], np.where(is_assault, "assault", ""))


def _arrivals(months, month: np.ndarray, night_out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Arrival times: a night out is 22:00–03:59 of a Friday or Saturday night in the month; any
    other attendance is on any day, more often in the evening."""
    start = np.array(months, dtype="datetime64[M]")
    end = (start + 1).astype("datetime64[D]")[month]
    start = start.astype("datetime64[D]")[month]
    n = len(month)
    hour = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    day = start + (rng.random(n) * (end - start).astype(int)).astype("timedelta64[D]")
    anytime = day + (hour * 3600 + rng.integers(0, 3600, n)).astype("timedelta64[s]")
    first_friday = start + ((FRIDAY - _weekday(start)) % 7).astype("timedelta64[D]")
    night = first_friday + (7 * rng.integers(0, 5, n) + rng.integers(0, 2, n)).astype("timedelta64[D]")
    late_night = night + (22 * 3600 + rng.integers(0, 6 * 3600, n)).astype("timedelta64[s]")
    while (beyond := late_night >= end).any():                  # past the month: the week before
        late_night = np.where(beyond, late_night - np.timedelta64(7, "D"), late_night)
    return np.where(night_out, late_night, anytime).astype("datetime64[s]")


def _weekday(day: np.ndarray) -> np.ndarray:
    """Monday 0 … Sunday 6 (1 January 1970 was a Thursday)."""
    return (day.astype("datetime64[D]").astype(np.int64) + 3) % 7


def weekend_night(arrival: np.ndarray) -> np.ndarray:
    """True for an arrival 22:00–03:59 of a Friday or Saturday night (a 01:00 Saturday arrival
    belongs to Friday night)."""
    shifted = arrival.astype("datetime64[s]") - np.timedelta64(4, "h")
    night = shifted.astype("datetime64[D]")
    return np.isin(_weekday(night), [FRIDAY, FRIDAY + 1]) & (shifted - night >= np.timedelta64(18, "h"))


def _ymd(day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    month_start = day.astype("datetime64[M]")
    return (day.astype("datetime64[Y]").astype(int) + 1970, month_start.astype(int) % 12 + 1,
            (day - month_start.astype("datetime64[D]")).astype(int) + 1)


def _birth_dates(arrival_day: np.ndarray, age: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A date of birth at which the patient is `age` completed years old on arrival_day (birthdays
    from a non-leap year, so never 29 February)."""
    _, month, day = _ymd(np.datetime64("2023-01-01") + rng.integers(0, 365, len(age)).astype("timedelta64[D]"))
    arrival_year, arrival_month, arrival_dom = _ymd(arrival_day)
    had_birthday = (month < arrival_month) | ((month == arrival_month) & (day <= arrival_dom))
    year = arrival_year - age - ~had_birthday
    return (((year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)).astype("datetime64[D]")
            + (day - 1))


def _completed_years(birth: np.ndarray, day: np.ndarray) -> np.ndarray:
    birth_year, birth_month, birth_dom = _ymd(birth)
    year, month, dom = _ymd(day)
    return year - birth_year - ((month < birth_month) | ((month == birth_month) & (dom < birth_dom)))


def _repeat_victims(month: np.ndarray, n_months: int, rng: np.random.Generator) -> np.ndarray:
    """For attendances in month order: the index of the person's first attendance. REPEAT_SHARE
    of them are by someone who attended in an earlier month."""
    person = np.arange(len(month))
    earlier_rows = np.searchsorted(month, np.arange(n_months))[month]          # rows before this month
    repeat = (rng.random(len(month)) < REPEAT_SHARE) & (earlier_rows > 0)
    earlier = (rng.random(len(month)) * earlier_rows).astype(int)
    for m in range(1, n_months):                    # earlier months first: a third visit finds the first
        rows = np.flatnonzero(repeat & (month == m))
        person[rows] = person[earlier[rows]]
    return person


def _identities(male: np.ndarray, lsoa: np.ndarray, lad_index: np.ndarray, rng: np.random.Generator):
    """Each row's own name, full postcode (an outward code of the LSOA's district) and NHS number."""
    n = len(male)
    first = np.where(male, np.array(FIRST_NAMES["male"])[rng.integers(0, len(FIRST_NAMES["male"]), n)],
                     np.array(FIRST_NAMES["female"])[rng.integers(0, len(FIRST_NAMES["female"]), n)])
    name = np.char.add(np.char.add(first, " "), np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)])
    districts = [POSTCODE_DISTRICTS[tv.LADS[li].name] for li in lad_index]      # each LSOA's outward code
    outward = np.array([d[int(u * len(d))] for d, u in zip(districts, rng.random(len(districts)), strict=True)])
    letters = np.array(INWARD_LETTERS)
    inward = np.char.add(np.char.add(rng.integers(0, 10, n).astype(str), letters[rng.integers(0, len(letters), n)]),
                         letters[rng.integers(0, len(letters), n)])
    return name, np.char.add(np.char.add(outward[lsoa], " "), inward), nhs_numbers(n, rng)


def nhs_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct 10-digit NHS numbers in the 999 range NHS test data uses, each with a valid
    modulus-11 check digit (a body whose check digit would be 10 is never issued)."""
    numbers = np.zeros(0, dtype=np.int64)
    while len(numbers) < n:
        body = 999_000_000 + rng.integers(0, 1_000_000, n)
        check = 11 - (body[:, None] // 10 ** np.arange(8, -1, -1) % 10) @ np.arange(10, 1, -1) % 11
        check = np.where(check == 11, 0, check)
        numbers = np.concatenate([numbers, (body * 10 + check)[check < 10]])
        numbers = numbers[np.sort(np.unique(numbers, return_index=True)[1])]
    return numbers[:n]


def _choose(shares: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    p = np.array(list(shares.values()))
    return np.array(list(shares))[rng.choice(len(p), n, p=p / p.sum())]


def _lookup(mapping: dict[str, str], keys: np.ndarray) -> np.ndarray:
    """mapping[key] for each key, vectorised over the distinct keys."""
    distinct, inverse = np.unique(keys, return_inverse=True)
    return np.array([mapping[k] for k in distinct.tolist()])[inverse.reshape(keys.shape)]


def _free_text(texts: dict[str, list[str]], keys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of each key's free-text phrases at random ('' for a key with none)."""
    width = max(map(len, texts.values()))
    table = np.array([[""] * width] + [t + [""] * (width - len(t)) for t in texts.values()])
    count = np.array([1, *map(len, texts.values())])
    kind = _lookup({k: i for i, k in enumerate(["", *texts])}, np.where(np.isin(keys, list(texts)), keys, ""))
    return table[kind, (rng.random(len(keys)) * count[kind]).astype(int)]


def _draw_injuries(t: _Attendances, codes: _Codes, rng: np.random.Generator) -> _Attendances:
    """How and where: assaults by ISTV method and location (sharp objects most for ages 15–24,
    licensed premises and streets on a night out), the rest self-harm or accidents."""
    n = len(t.month)
    assault = t.intent == "assault"
    location = np.where(weekend_night(t.arrival), _choose(LOCATION_SHARE["night_time_economy"], n, rng),
                        _choose(LOCATION_SHARE["other"], n, rng))
    location = np.where((location == "school") & (t.age > 18), "street", location)
    young = (t.age >= 15) & (t.age <= 24)
    sharp = rng.random(n) < np.where(young, SHARP_ODDS["15-24"], SHARP_ODDS["other"])
    glass = rng.random(n) < np.where(location == "licensed_premises", GLASS_SHARE["licensed_premises"],
                                     GLASS_SHARE["other"])
    method = np.where(sharp, np.where(glass, "glass_bottle", "knife"), _choose(NON_SHARP_METHOD_SHARE, n, rng))
    method, location = np.where(assault, method, ""), np.where(assault, location, "")

    self_harm = rng.random(n) < SELF_HARM_SHARE
    other = {intent: (_choose(mechanisms, n, rng), _choose(places, n, rng))
             for intent, (mechanisms, places) in OTHER_INJURY.items()}
    mechanism = np.where(assault, _lookup(codes.method_mechanism | {"": ""}, method),
                         np.where(self_harm, other["self_harm"][0], other["accident"][0]))
    place = np.where(assault, _lookup({k: codes.place_of(k) for k in codes.location} | {"": ""}, location),
                     np.where(self_harm, other["self_harm"][1], other["accident"][1]))
    delay = np.minimum(10 + rng.exponential(50, n), 360).astype(int) * 60
    injury = t.arrival - delay.astype("timedelta64[s]")
    injury = np.where(rng.random(n) < UNKNOWN_INJURY_TIME, np.datetime64("NaT", "s"), injury)
    return replace(t, intent=np.where(assault, "assault", np.where(self_harm, "self_harm", "accident")),
                   injury=injury, mechanism=mechanism, place=place, method=method,
                   method_text=_free_text(METHOD_TEXT, method, rng), location=location,
                   location_text=_free_text(LOCATION_TEXT, location, rng))


def _place_injuries(t: _Attendances, lsoa_lon, lsoa_lat, hotspot: int, hotspot_site: int,
                    rng: np.random.Generator) -> _Attendances:
    """Place-of-injury coordinates near home, except most licensed-premises assaults of the
    hotspot's ED's patients, which are near the night-time-economy hotspot; ~30% not given."""
    n = len(t.month)
    at_hotspot = ((t.location == "licensed_premises") & (t.site == hotspot_site)
                  & (rng.random(n) < HOTSPOT_SHARE))
    lon = np.where(at_hotspot, lsoa_lon[hotspot] + rng.normal(0, 0.0012, n),
                   lsoa_lon[t.lsoa] + rng.normal(0, 0.004, n))
    lat = np.where(at_hotspot, lsoa_lat[hotspot] + rng.normal(0, 0.0008, n),
                   lsoa_lat[t.lsoa] + rng.normal(0, 0.003, n))
    given = rng.random(n) >= NO_PLACE_COORDINATES
    return replace(t, latitude=np.where(given, np.round(lat, 6), np.nan),
                   longitude=np.where(given, np.round(lon, 6), np.nan))


def _number(t: _Attendances) -> _Attendances:
    """Each attendance's number within its site-month, in order of arrival."""
    n = len(t.month)
    t = t.take(np.lexsort((t.arrival, t.month, t.site)))
    first = np.r_[True, (t.site[1:] != t.site[:-1]) | (t.month[1:] != t.month[:-1])]
    return replace(t, serial=np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0)) + 1,
                   dupe=np.zeros(n, bool), late=np.zeros(n, bool))


def _pick_resubmission(t: _Attendances, site: int, month: int, rng: np.random.Generator) -> tuple[int, int, int]:
    """In one site-month: an assault whose method r2 corrects, one whose location it corrects and
    one the first delivery missed."""
    rows = np.flatnonzero((t.site == site) & (t.month == month) & (t.intent == "assault"))
    method_row = int(rng.choice(rows[np.isin(t.method[rows], ["body_part", "blunt_object"])]))
    location_row = int(rng.choice(rows[np.isin(t.location[rows], ["street", "home"]) & (rows != method_row)]))
    added = int(rng.choice(rows[(rows != method_row) & (rows != location_row)]))
    return method_row, location_row, added


def _corrected(t: _Attendances, codes: _Codes, method_row: int, location_row: int) -> _Attendances:
    """The r2 delivery's rows: body part and blunt object swapped in one, street and home in another."""
    method = "blunt_object" if t.method[method_row] == "body_part" else "body_part"
    location = "home" if t.location[location_row] == "street" else "street"
    return replace(t, method=_with(t.method, method_row, method),
                   method_text=_with(t.method_text, method_row, METHOD_TEXT[method][0]),
                   mechanism=_with(t.mechanism, method_row, codes.method_mechanism[method]),
                   location=_with(t.location, location_row, location),
                   location_text=_with(t.location_text, location_row, LOCATION_TEXT[location][0]),
                   place=_with(t.place, location_row, codes.place_of(location)))


def _with(values: np.ndarray, index: int, value: str) -> np.ndarray:
    changed = values.astype(object)            # a fixed-width string array could cut the value short
    changed[index] = value
    return changed


def _with_dupes(t: _Attendances, dupes: np.ndarray, site_codes: list[str], months) -> _Attendances:
    """The rows plus a second row of each dupe under a new number, flagged a duplicate; EC_Ident
    is site, YYMM and the number."""
    n = len(t.month)
    t = t.take(np.r_[np.arange(n), dupes])
    serial = np.r_[t.serial[:n], t.serial[n:] + 50_000]
    yymm = np.array([m[2:4] + m[5:7] for m in months])
    ident = np.char.add(np.char.add(np.array(site_codes)[t.site], yymm[t.month]),
                        np.char.zfill(serial.astype(str), 5))
    return replace(t, serial=serial, ident=ident, dupe=np.arange(len(serial)) >= n)


def _stamps(values: np.ndarray, unit: str = "s") -> tuple[np.ndarray, np.ndarray]:
    """('YYYY-MM-DD', 'HH:MM[:SS]') strings, both blank for NaT."""
    text = np.datetime_as_string(values, unit=unit)
    known = ~np.isnat(values)
    return np.where(known, text.astype("U10"), ""), np.where(known, np.char.partition(text, "T")[:, 2], "")


def _in_order(t: _Attendances, rows: np.ndarray) -> np.ndarray:
    index = np.flatnonzero(rows)
    return index[np.lexsort((t.ident[index], t.arrival[index]))]


def _ecds_rows(t: _Attendances, rows: np.ndarray, sites, lsoa_code: list[str], codes: _Codes):
    index = _in_order(t, rows)
    arrival_date, arrival_time = _stamps(t.arrival[index])
    injury_date, injury_time = _stamps(t.injury[index])
    birth = np.datetime_as_string(t.birth[index])
    for k, i in enumerate(index):
        given = not np.isnan(t.latitude[i])
        yield [t.ident[i], sites[t.site[i]]["provider_code"], arrival_date[k], arrival_time[k], int(t.age[i]),
               t.sex[i], injury_date[k], injury_time[k], codes.intent[t.intent[i]],
               codes.mechanism[t.mechanism[i]], codes.place[t.place[i]],
               f"{t.latitude[i]:.6f}" if given else "", f"{t.longitude[i]:.6f}" if given else "",
               lsoa_code[t.lsoa[i]], int(t.dupe[i]), int(t.nhs_number[i]), birth[k], t.postcode[i], t.name[i]]


def _istv_rows(t: _Attendances, rows: np.ndarray, site: dict[str, str], month: str, codes: _Codes):
    index = _in_order(t, rows)
    start = np.datetime64(month, "M")
    period = [str(start.astype("datetime64[D]")), str((start + 1).astype("datetime64[D]") - 1)]
    arrival_date, arrival_time = _stamps(t.arrival[index], "m")
    assault_date, assault_time = _stamps(t.injury[index], "m")
    for k, i in enumerate(index):
        yield [site["site_code"], *period, t.ident[i], arrival_date[k], arrival_time[k], assault_date[k],
               assault_time[k], codes.method[t.method[i]], t.method_text[i], codes.location[t.location[i]],
               t.location_text[i]]


