"""Deterministic demo extracts for Thames Valley in the real published layouts.

Writes ONS lookups, LSOA centroids and a mid-2024 small-area population file (ons/,
population/), a data.police.uk street and stop-and-search file per month for two complete
financial years, April 2023 to March 2025 (police/YYYY-MM/, see stop_search.py), and for the last
of them the force's own recorded-crime extract for the same crimes with its column-mapping file
(force_crime/thames-valley/, see force_extract.py) and hospital A&E assault data: each ED's monthly
ISTV submission and each provider's ECDS extract (ae/istv/, ae/ecds/, see ae.py), DfE suspensions
and permanent exclusions release files with a schools register (dfe/, see dfe.py), all from one
seed: the same seed gives byte-identical files. Signals are planted for tests (and analysts
trying the platform) to find again:
- a hotspot LSOA in Reading whose violence rate is about six times the force's, every month;
- a seasonal peak: violence rises to a maximum in July each year (police and A&E);
- A&E: a Friday and Saturday night peak of assaults (22:00–03:59); a night-time-economy hotspot
  LSOA in Oxford city centre where licensed-premises assaults cluster; sharp-object assaults
  concentrated in ages 15–24; repeat victims; one site-month resubmitted (-r2 files) and one
  site-month with no ISTV submission.
Counts are Poisson draws around population-proportional means, vectorised with numpy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingestion.demo import ae, dfe, force_extract, stop_search
from ingestion.demo import thames_valley as tv
from ingestion.demo.files import write_csv

# two complete financial years, April 2023 to March 2025, so financial-year rows, year-on-year
# trends and 13 rolling years exist (and the academic years 2022/23 and 2023/24 of the DfE files overlap)
DEFAULT_MONTHS = tuple(str(m) for m in np.arange("2023-04", "2025-04", dtype="datetime64[M]"))
# the hospitals' data-sharing agreement and the force's own extract began later, as they often
# do: A&E and force-extract files cover the last 12 months only (with all months, the NHS rule's
# overlapping-period relations, and so secondary suppression, grow with the cube of the months)
LATER_SOURCE_MONTHS = 12
POPULATION_YEAR = 2024
HOTSPOT_VIOLENCE_FACTOR = 6.0
NO_LOCATION_SHARE = 0.02
STREET_HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
                 "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context"]


@dataclass(frozen=True)
class DemoExtracts:
    out_dir: Path
    months: tuple[str, ...]
    hotspot_lsoa21_code: str
    hotspot_lsoa21_name: str
    peak_month: str                                               # the month of the year, "07"
    police_files: list[Path] = field(default_factory=list)
    lookup_files: dict[str, Path] = field(default_factory=dict)
    population_files: list[Path] = field(default_factory=list)
    imd_file: Path | None = None
    force_crime_files: list[Path] = field(default_factory=list)
    stop_search_files: list[Path] = field(default_factory=list)
    ae_istv_files: list[Path] = field(default_factory=list)      # with the -r2 correction
    ae_ecds_files: list[Path] = field(default_factory=list)      # with the -r2 correction
    ae_nighttime_hotspot_lsoa21_code: str = ""
    ae_resubmission: ae.Resubmission | None = None
    ae_istv_missing_site: str = ""                                # did not submit ISTV for…
    ae_istv_missing_month: str = ""                               # …this month
    later_months: tuple[str, ...] = ()                            # the months of the A&E and force extracts
    dfe_files: list[Path] = field(default_factory=list)          # exclusions, school-level, by-reason, register
    dfe_planted: dfe.DfeFiles | None = None                       # the planted c and x cells, shared LSOA


@dataclass(frozen=True)
class _Geography:
    lsoa_code: list[str]
    lsoa_name: list[str]
    msoa_code: list[str]
    msoa_name: list[str]
    ward_code: list[str]
    ward_name: list[str]
    lad_index: np.ndarray
    longitude: np.ndarray
    latitude: np.ndarray


def _geography(rng: np.random.Generator) -> _Geography:
    """LSOAs grouped into MSOAs of 4–6 (names like 'Reading 001A') and wards of about 5."""
    codes, names, msoas, msoa_names, wards, ward_names, lad_index = [], [], [], [], [], [], []
    msoa_serial = ward_serial = 0
    for li, lad in enumerate(tv.LADS):
        remaining, msoa_number, ward_number = lad.lsoa_count, 0, 0
        while remaining > 0:
            size = min(remaining, int(rng.integers(4, 7)))
            msoa_number += 1
            msoa_serial += 1
            for letter in "ABCDEF"[:size]:
                if len(codes) % 5 == 0 or not lad_index or lad_index[-1] != li:
                    ward_number += 1
                    ward_serial += 1
                codes.append(f"E0109{len(codes) + 1:04d}")
                names.append(f"{lad.name} {msoa_number:03d}{letter}")
                msoas.append(f"E0209{msoa_serial:04d}")
                msoa_names.append(f"{lad.name} {msoa_number:03d}")
                wards.append(f"E0509{ward_serial:04d}")
                ward_names.append(f"{lad.name} ward {ward_number:02d}")
                lad_index.append(li)
            remaining -= size
    lad_index = np.array(lad_index)
    centre_lon = np.array([lad.longitude for lad in tv.LADS])[lad_index]
    centre_lat = np.array([lad.latitude for lad in tv.LADS])[lad_index]
    return _Geography(codes, names, msoas, msoa_names, wards, ward_names, lad_index,
                      centre_lon + rng.normal(0, 0.04, len(codes)), centre_lat + rng.normal(0, 0.03, len(codes)))


def _output_area_rows(geo: _Geography, rng: np.random.Generator):
    """OA21 → LSOA21 → MSOA21 rows, 4–6 synthetic output areas (E0090xxxx) per LSOA."""
    serial = 0
    for code, name, msoa, msoa_name, li in zip(geo.lsoa_code, geo.lsoa_name, geo.msoa_code, geo.msoa_name,
                                               geo.lad_index, strict=True):
        for _ in range(int(rng.integers(4, 7))):
            serial += 1
            lad = tv.LADS[li]
            yield [f"E0090{serial:04d}", code, name, "", msoa, msoa_name, "", lad.code, lad.name, "", serial]


def _lsoa11_rows(geo: _Geography, rng: np.random.Generator):
    """LSOA 2011 → 2021 exact-fit rows with CHGIND: most unchanged (same code), a few 2011 LSOAs
    split in two (S) and a few pairs merged into one (M), as the 2021 census redrew them. Also
    returns (LSOA 2011 code, name, index of an LSOA 2021 it covers) for the IMD file."""
    rows, codes11, serial, i, n = [], [], 0, 0, len(geo.lsoa_code)
    while i < n:
        lad = tv.LADS[geo.lad_index[i]]
        same_msoa = i + 1 < n and geo.msoa_code[i + 1] == geo.msoa_code[i]
        draw = rng.random()
        if draw < 0.03 and same_msoa:             # one 2011 LSOA split into LSOAs i and i+1
            serial += 1
            code11 = f"E0119{serial:04d}"
            for j in (i, i + 1):
                rows.append([code11, geo.msoa_name[i] + "X", "S", geo.lsoa_code[j], geo.lsoa_name[j], lad.code, lad.name])
            codes11.append((code11, geo.msoa_name[i] + "X", i))
            i += 2
        elif draw < 0.05:                          # two 2011 LSOAs merged into LSOA i
            for suffix in "YZ":
                serial += 1
                code11 = f"E0119{serial:04d}"
                rows.append([code11, geo.msoa_name[i] + suffix, "M", geo.lsoa_code[i], geo.lsoa_name[i], lad.code, lad.name])
                codes11.append((code11, geo.msoa_name[i] + suffix, i))
            i += 1
        else:
            rows.append([geo.lsoa_code[i], geo.lsoa_name[i], "U", geo.lsoa_code[i], geo.lsoa_name[i], lad.code, lad.name])
            codes11.append((geo.lsoa_code[i], geo.lsoa_name[i], i))
            i += 1
    return [[*r, k + 1] for k, r in enumerate(rows)], codes11


def _age_sex_weights() -> np.ndarray:
    """A plausible English age pyramid, F0…F90 then M0…M90 (90 = 90 and over)."""
    ages = np.arange(91)
    base = np.where(ages < 60, 1.0, np.exp(-(ages - 60) / 14.0))
    base[90] = base[89:].sum() * 2.5          # 90+ is an open-ended band
    female, male = base * 0.508, base * 0.492
    male[70:] *= 0.85                          # fewer men at older ages
    weights = np.concatenate([female, male])
    return weights / weights.sum()


def _violence_season(month_number: int) -> float:
    """A mild annual cycle plus a summer bump, peaking in July (month 7)."""
    return 1 + 0.10 * np.cos(2 * np.pi * (month_number - 7) / 12) + 0.25 * np.exp(-((month_number - 7) ** 2) / 2)


def generate_demo_extracts(out_dir: Path, seed: int = 2025, months: Sequence[str] = DEFAULT_MONTHS) -> DemoExtracts:
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    geo = _geography(rng)
    n_lsoa = len(geo.lsoa_code)

    # population: LSOA totals ~1,700 (1,000–3,000), split over sex × single year of age
    totals = np.clip(np.round(rng.normal(1700, 300, n_lsoa)), 1000, 3000).astype(int)
    age_sex = rng.multinomial(totals, _age_sex_weights())
    lads = tv.LADS
    population_file = write_csv(
        out_dir / "population" / f"sapelsoasyoa_mid{POPULATION_YEAR}.csv",
        ["LAD 2023 Code", "LAD 2023 Name", "LSOA 2021 Code", "LSOA 2021 Name", "Total",
         *[f"F{a}" for a in range(91)], *[f"M{a}" for a in range(91)]],
        ([lads[li].code, lads[li].name, code, name, int(total), *map(int, counts)]
         for li, code, name, total, counts in zip(geo.lad_index, geo.lsoa_code, geo.lsoa_name, totals, age_sex, strict=True)))

    lookups = {
        "lsoa21_lad": write_csv(
            out_dir / "ons" / "LSOA21_WD24_LAD24_EW_LU.csv",
            ["LSOA21CD", "LSOA21NM", "WD24CD", "WD24NM", "LAD24CD", "LAD24NM", "ObjectId"],
            ([code, name, wd, wdn, lads[li].code, lads[li].name, i + 1] for i, (code, name, wd, wdn, li)
             in enumerate(zip(geo.lsoa_code, geo.lsoa_name, geo.ward_code, geo.ward_name, geo.lad_index, strict=True)))),
        "lad_csp_pfa": write_csv(
            out_dir / "ons" / "LAD24_CSP24_PFA24_EW_LU.csv",
            ["LAD24CD", "LAD24NM", "CSP24CD", "CSP24NM", "PFA24CD", "PFA24NM", "ObjectId"],
            ([lad.code, lad.name, lad.csp_code, lad.csp_name, tv.PFA_CODE, tv.PFA_NAME, i + 1] for i, lad in enumerate(lads))),
        "lad_hierarchy": write_csv(
            out_dir / "ons" / "WD24_LAD24_CTYUA24_RGN24_CTRY24_UK_LU.csv",
            ["WD24CD", "WD24NM", "LAD24CD", "LAD24NM", "CTYUA24CD", "CTYUA24NM", "RGN24CD", "RGN24NM",
             "CTRY24CD", "CTRY24NM", "ObjectId"],
            ([wd, wdn, lads[li].code, lads[li].name, *tv.COUNTY_OF.get(lads[li].code, (lads[li].code, lads[li].name)),
              tv.REGION_CODE, tv.REGION_NAME, tv.COUNTRY_CODE, tv.COUNTRY_NAME, i + 1]
             for i, (wd, wdn, li) in enumerate(sorted(set(zip(geo.ward_code, geo.ward_name, geo.lad_index, strict=True)))))),
        "lsoa21_msoa21": write_csv(
            out_dir / "ons" / "OA21_LSOA21_MSOA21_LAD22_EW_LU.csv",
            ["OA21CD", "LSOA21CD", "LSOA21NM", "LSOA21NMW", "MSOA21CD", "MSOA21NM", "MSOA21NMW",
             "LAD22CD", "LAD22NM", "LAD22NMW", "ObjectId"],
            _output_area_rows(geo, rng)),
    }
    # where each LSOA is: the population-weighted centroids' CSV export (x = longitude, y = latitude)
    lookups["lsoa21_centroid"] = write_csv(
        out_dir / "ons" / "LSOA_PopCentroids_EW_2021_V4.csv", ["FID", "LSOA21CD", "GlobalID", "x", "y"],
        ([i + 1, code, f"{{demo-{i + 1:05d}}}", f"{lon:.6f}", f"{lat:.6f}"]
         for i, (code, lon, lat) in enumerate(zip(geo.lsoa_code, geo.longitude, geo.latitude, strict=True))))
    lsoa11_rows, lsoa11_codes = _lsoa11_rows(geo, rng)
    lookups["lsoa11_lsoa21"] = write_csv(
        out_dir / "ons" / "LSOA11_LSOA21_LAD22_EW_LU.csv",
        ["F_LSOA11CD", "LSOA11NM", "CHGIND", "LSOA21CD", "LSOA21NM", "LAD22CD", "LAD22NM", "ObjectId"],
        lsoa11_rows)

    # the planted hotspot: one Reading LSOA, chosen by the seed
    reading = np.flatnonzero(geo.lad_index == [lad.code for lad in lads].index(tv.HOTSPOT_LAD))
    hotspot = int(rng.choice(reading))

    crime_types = list(tv.ANNUAL_RATE_PER_1000)
    violence = crime_types.index("Violence and sexual offences")
    annual = np.array([tv.ANNUAL_RATE_PER_1000[t] for t in crime_types])
    # each LSOA has its own level of crime (log-normal), the hotspot far above the rest for violence
    lsoa_factor = rng.lognormal(0, 0.35, n_lsoa)
    lsoa_factor[hotspot] = 1.0
    type_factor = np.ones((n_lsoa, len(crime_types)))
    type_factor[hotspot, violence] = HOTSPOT_VIOLENCE_FACTOR
    base_mean = (totals / 1000.0)[:, None] * annual[None, :] / 12 * lsoa_factor[:, None] * type_factor

    # IMD 2019 by LSOA 2011, more deprived where crime runs higher (as it does in England)
    deprivation, names11 = {}, {}
    for code11, name11, j in lsoa11_codes:
        deprivation[code11] = -np.log(lsoa_factor[j]) + rng.normal(0, 0.3)
        names11[code11] = name11
    ranked = sorted(deprivation, key=deprivation.get)
    imd_file = write_csv(
        out_dir / "deprivation" / "File_7_IoD2019_demo.csv",
        ["LSOA code (2011)", "LSOA name (2011)", "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
         "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"],
        ([code, names11[code], rank, 1 + (rank - 1) * 10 // len(ranked)] for rank, code in enumerate(ranked, 1)))

    police_files, force_files, stop_search_files = [], [], []
    later_months = tuple(months[-LATER_SOURCE_MONTHS:])
    for month in months:
        month_number = int(month[5:7])
        season = np.where(np.arange(len(crime_types)) == violence, _violence_season(month_number),
                          1 + 0.05 * np.cos(2 * np.pi * (month_number - 7) / 12))
        counts = rng.poisson(base_mean * season[None, :])
        lsoa_idx = np.repeat(np.arange(n_lsoa), counts.sum(axis=1))
        type_idx = np.concatenate([np.repeat(np.arange(len(crime_types)), row) for row in counts])
        # ~2% of records have no map point within 20 km: no coordinates and no LSOA
        no_location = rng.poisson(counts.sum(axis=0) * NO_LOCATION_SHARE / (1 - NO_LOCATION_SHARE))
        lsoa_idx = np.concatenate([lsoa_idx, np.full(no_location.sum(), -1)])
        type_idx = np.concatenate([type_idx, np.repeat(np.arange(len(crime_types)), no_location)])
        order = np.argsort(np.where(lsoa_idx < 0, n_lsoa, lsoa_idx) + rng.random(len(lsoa_idx)) * 0.5, kind="stable")
        lsoa_idx, type_idx = lsoa_idx[order], type_idx[order]
        n = len(lsoa_idx)
        lon = np.round(geo.longitude[np.maximum(lsoa_idx, 0)] + rng.normal(0, 0.004, n), 6)
        lat = np.round(geo.latitude[np.maximum(lsoa_idx, 0)] + rng.normal(0, 0.003, n), 6)
        streets = rng.integers(0, len(tv.STREETS), n)
        outcomes = rng.integers(0, len(tv.OUTCOMES), n)

        # the loop's values are bound as defaults (the generator is consumed before the next month)
        def rows(n=n, month=month, type_idx=type_idx, lsoa_idx=lsoa_idx, lon=lon, lat=lat, streets=streets,
                 outcomes=outcomes):
            for i in range(n):
                crime_type = crime_types[type_idx[i]]
                asb = crime_type == "Anti-social behaviour"
                crime_id = "" if asb else hashlib.sha256(f"{seed}:{month}:{i}".encode()).hexdigest()
                outcome = "" if asb else tv.OUTCOMES[outcomes[i]]
                if lsoa_idx[i] < 0:
                    yield [crime_id, month, tv.FORCE_NAME, tv.FORCE_NAME, "", "", "No Location", "", "",
                           crime_type, outcome, ""]
                else:
                    j = lsoa_idx[i]
                    yield [crime_id, month, tv.FORCE_NAME, tv.FORCE_NAME, f"{lon[i]:.6f}", f"{lat[i]:.6f}",
                           f"On or near {tv.STREETS[streets[i]]}", geo.lsoa_code[j], geo.lsoa_name[j],
                           crime_type, outcome, ""]

        police_files.append(write_csv(
            out_dir / "police" / month / f"{month}-{tv.FORCE_SLUG}-street.csv", STREET_HEADER, rows()))
        if month in later_months:
            force_files.append(force_extract.write_month(
                out_dir, month, seed, crime_types, type_idx,
                [geo.lsoa_code[j] if j >= 0 else "" for j in lsoa_idx],
                # its own stream, so adding the extract left the street files byte-identical
                np.random.default_rng([seed, int(month.replace("-", ""))])))
        located = lsoa_idx >= 0
        stop_search_files.append(stop_search.write_month(
            out_dir, month, int(totals.sum()), lon[located], lat[located], geo.longitude, geo.latitude,
            np.random.default_rng([seed, int(month.replace("-", "")), 1])))

    # A&E from its own stream, so adding it left the police and ONS files byte-identical
    hospital = ae.write_extracts(out_dir, later_months, geo.lsoa_code, geo.lad_index, geo.longitude, geo.latitude,
                                 age_sex, np.array([_violence_season(int(m[5:7])) for m in later_months]),
                                 np.random.default_rng([seed, ae.AE_STREAM]))

    # DfE from its own stream too, so adding it left every other file byte-identical
    schools = dfe.write_extracts(out_dir, geo.lsoa_code, geo.lsoa_name, geo.lad_index,
                                 np.random.default_rng([seed, dfe.DFE_STREAM]))

    peak = max(range(1, 13), key=_violence_season)
    return DemoExtracts(out_dir, tuple(months), geo.lsoa_code[hotspot], geo.lsoa_name[hotspot], f"{peak:02d}",
                        police_files, lookups, [population_file], imd_file, force_files, stop_search_files,
                        hospital.istv_files, hospital.ecds_files, hospital.nighttime_hotspot_lsoa21_code,
                        hospital.resubmission, hospital.istv_missing_site, hospital.istv_missing_month,
                        later_months, schools.files, schools)
