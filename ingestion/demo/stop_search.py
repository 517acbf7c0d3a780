"""Demo data.police.uk stop-and-search files for Thames Valley, in the published layout.

Most searches sit on a map point of that month's street crimes (police.uk anonymises both to
the same points), some elsewhere near an LSOA (placed by nearest centroid) and some have no
coordinates, as in the real files. Drawn from their own random stream so that adding them left
the street files byte-identical.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ingestion.demo import thames_valley as tv

HEADER = ["Type", "Date", "Part of a policing operation", "Policing operation", "Latitude", "Longitude",
          "Gender", "Age range", "Self-defined ethnicity", "Officer-defined ethnicity", "Legislation",
          "Object of search", "Outcome", "Outcome linked to object of search",
          "Removal of more than just outer clothing"]
SEARCHES_PER_1000_A_MONTH = 0.25
ON_MAP_POINT, NEAR_LSOA = 0.6, 0.3            # the rest have no coordinates
OBJECTS = {  # object of search: (legislation, share)
    "Controlled drugs": ("Misuse of Drugs Act 1971 (section 23)", 0.60),
    "Offensive weapons": ("Police and Criminal Evidence Act 1984 (section 1)", 0.15),
    "Stolen goods": ("Police and Criminal Evidence Act 1984 (section 1)", 0.12),
    "Article for use in theft": ("Police and Criminal Evidence Act 1984 (section 1)", 0.08),
    "Firearms": ("Firearms Act 1968 (section 47)", 0.02),
    "Anything to threaten or harm anyone": ("Criminal Justice and Public Order Act 1994 (section 60)", 0.03),
}
OUTCOMES = {"A no further action disposal": 0.70, "Arrest": 0.14, "Community resolution": 0.08,
            "Khat or Cannabis warning": 0.06, "Penalty Notice for Disorder": 0.02}
AGES, ETHNICITIES = ["10-17", "18-24", "25-34", "over 34"], ["White", "Black", "Asian", "Other"]


def write_month(out_dir: Path, month: str, population: int, street_lon: np.ndarray, street_lat: np.ndarray,
                lsoa_lon: np.ndarray, lsoa_lat: np.ndarray, rng: np.random.Generator) -> Path:
    """One month's file. street_*: the month's map points; lsoa_*: where the LSOAs are."""
    n = int(rng.poisson(population / 1000 * SEARCHES_PER_1000_A_MONTH))
    kind = rng.choice(3, size=n, p=[ON_MAP_POINT, NEAR_LSOA, 1 - ON_MAP_POINT - NEAR_LSOA])
    point = rng.integers(0, len(street_lon), n)
    near = rng.integers(0, len(lsoa_lon), n)
    lat = np.where(kind == 0, street_lat[point], np.round(lsoa_lat[near] + rng.normal(0, 0.004, n), 6))
    lon = np.where(kind == 0, street_lon[point], np.round(lsoa_lon[near] + rng.normal(0, 0.006, n), 6))
    objects, outcomes = list(OBJECTS), list(OUTCOMES)
    obj = rng.choice(len(objects), size=n, p=[OBJECTS[o][1] for o in objects])
    out = rng.choice(len(outcomes), size=n, p=list(OUTCOMES.values()))
    female, age, ethnicity = rng.random(n) < 0.15, rng.integers(0, len(AGES), n), rng.integers(0, len(ETHNICITIES), n)
    linked = (np.asarray(outcomes)[out] != "A no further action disposal") & (rng.random(n) < 0.7)
    first_day = np.datetime64(month, "M")
    days = ((first_day + 1).astype("datetime64[D]") - first_day.astype("datetime64[D]")).astype(int)
    at = first_day.astype("datetime64[m]") + rng.integers(0, days * 24 * 60, n).astype("timedelta64[m]")
    path = out_dir / "police" / month / f"{month}-{tv.FORCE_SLUG}-stop-and-search.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(n):
            located = kind[i] < 2
            writer.writerow([
                "Person search", f"{np.datetime_as_string(at[i])}:00+00:00", "False", "",
                f"{lat[i]:.6f}" if located else "", f"{lon[i]:.6f}" if located else "",
                "Female" if female[i] else "Male", AGES[age[i]], "", ETHNICITIES[ethnicity[i]],
                OBJECTS[objects[obj[i]]][0], objects[obj[i]], outcomes[out[i]], str(bool(linked[i])), "False"])
    return path
