"""The demo's Thames Valley recorded-crime extract, in a force's own layout with its mapping file.

One record per crime in the demo street files (anti-social behaviour is not recorded crime), so
the two sources agree; each gets a Home Office offence code drawn from its police.uk category, a
knife flag with offence-specific odds (highest for attempted murder, robbery and GBH with intent)
and a victim age. The layout, date format and flag values are deliberately not the project
schema: `thames_valley_force_mapping.toml` maps them in, as a real force's mapping file would.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import numpy as np

MAPPING_TEMPLATE = Path(__file__).with_name("thames_valley_force_mapping.toml")
HEADER = ["URN (pseudonymised)", "Recorded Date", "Home Office Code", "Home Office Offence",
          "Knife Or Sharp Instrument", "Victim Age", "LSOA Code", "Investigating Unit"]

# police.uk category → Home Office codes: (code, description, share of the category, knife odds)
OFFENCES = {
    "Violence and sexual offences": [
        ("105A", "Assault without injury", 0.34, 0.0), ("8N", "Assault with injury", 0.25, 0.06),
        ("8L", "Harassment", 0.12, 0.0), ("8Q", "Stalking", 0.05, 0.0),
        ("8R", "Malicious communications", 0.09, 0.0),
        ("5D", "Assault with intent to cause serious harm", 0.015, 0.30),
        ("2", "Attempted murder", 0.001, 0.5), ("3B", "Threats to kill", 0.01, 0.08),
        ("19C", "Rape of a female aged 16 and over", 0.025, 0.01),
        ("20A", "Sexual assault on a female aged 13 and over", 0.03, 0.01),
        ("11A", "Cruelty to children/young persons", 0.069, 0.0),
    ],
    "Robbery": [("34B", "Robbery of personal property", 0.9, 0.2), ("34A", "Robbery of business property", 0.1, 0.25)],
    "Possession of weapons": [("10D", "Possession of article with blade or point", 0.6, 0.0),
                              ("10C", "Possession of other weapons", 0.4, 0.0)],
    "Burglary": [("28E", "Burglary - residential", 0.7, 0.0), ("30C", "Burglary - business and community", 0.3, 0.0)],
    "Criminal damage and arson": [("58J", "Criminal damage to a vehicle", 0.5, 0.0),
                                  ("58C", "Criminal damage to a dwelling", 0.5, 0.0)],
    "Drugs": [("92D", "Possession of cannabis", 0.7, 0.0), ("92A", "Trafficking in controlled drugs", 0.3, 0.0)],
    "Other theft": [("49", "Other theft", 1.0, 0.0)],
    "Vehicle crime": [("45", "Theft from a vehicle", 0.6, 0.0),
                      ("48", "Theft or unauthorised taking of a motor vehicle", 0.4, 0.0)],
    "Shoplifting": [("46", "Shoplifting", 1.0, 0.0)],
    "Public order": [("9A", "Public fear, alarm or distress", 1.0, 0.0)],
    "Bicycle theft": [("44", "Theft or unauthorised taking of a pedal cycle", 1.0, 0.0)],
    "Other crime": [("66", "Other criminal offences", 1.0, 0.0)],
    "Theft from the person": [("39", "Theft from the person", 1.0, 0.0)],
}
AGE_UNKNOWN_SHARE = 0.04


def _victim_ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Victims skew young (about a third under 25, as in recorded violence); -1 = not known."""
    ages = np.clip(np.round(rng.gamma(3.2, 10.5, n) + 8), 0, 95).astype(int)
    ages[rng.random(n) < AGE_UNKNOWN_SHARE] = -1
    return ages


def write_month(out_dir: Path, month: str, seed: int, crime_types: list[str], type_idx: np.ndarray,
                lsoa_codes: list[str], rng: np.random.Generator) -> Path:
    """One month's extract: a row per street record that is a recorded crime (lsoa '' = not geocoded)."""
    folder = out_dir / "force_crime" / "thames-valley"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MAPPING_TEMPLATE, folder / "mapping.toml")
    year, mon = month.split("-")
    days = {"02": 28, "04": 30, "06": 30, "09": 30, "11": 30}.get(mon, 31)
    records = np.flatnonzero(np.isin(np.asarray(crime_types)[type_idx], list(OFFENCES)))
    n = len(records)
    codes, descriptions, knife = np.empty(n, dtype=object), np.empty(n, dtype=object), np.zeros(n, dtype=bool)
    for crime_type, offences in OFFENCES.items():
        members = np.flatnonzero(np.asarray(crime_types)[type_idx[records]] == crime_type)
        shares = np.array([o[2] for o in offences])
        pick = rng.choice(len(offences), size=len(members), p=shares / shares.sum())
        codes[members] = np.array([o[0] for o in offences], dtype=object)[pick]
        descriptions[members] = np.array([o[1] for o in offences], dtype=object)[pick]
        knife[members] = rng.random(len(members)) < np.array([o[3] for o in offences])[pick]
    day = rng.integers(1, days + 1, n)
    ages = _victim_ages(rng, n)
    path = folder / f"TVP_recorded_crime_{month}.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(
            ["TVP" + hashlib.sha256(f"{seed}:{month}:{i}:force".encode()).hexdigest()[:16].upper(),
             f"{day[k]:02d}/{mon}/{year}", codes[k], descriptions[k], "Y" if knife[k] else "N",
             "Not Known" if ages[k] < 0 else str(ages[k]), lsoa_codes[i], f"LPA {1 + k % 11}"]
            for k, i in enumerate(records))
    return path
