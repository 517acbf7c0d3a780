"""A national-scale year of data.police.uk street files in the real layout, generated with DuckDB.

43 forces (the England and Wales force ids police.uk uses), each with its own districts and LSOAs
(synthetic codes in the real ONS file layouts, about 33,000 LSOAs as in England and Wales), a
mid-2024 population, and one `YYYY-MM/YYYY-MM-<force>-street.csv` per force and month. Rows are
drawn set-based in SQL (hashes of the row number), so generating 6.5 million rows takes seconds.
Counts are proportional to each force's population; ~12% anti-social behaviour (blank Crime ID),
~2% with no location, about 28% violence, as in the real files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

FORCES = [
    "avon-and-somerset", "bedfordshire", "cambridgeshire", "cheshire", "city-of-london", "cleveland",
    "cumbria", "derbyshire", "devon-and-cornwall", "dorset", "durham", "dyfed-powys", "essex",
    "gloucestershire", "greater-manchester", "gwent", "hampshire", "hertfordshire", "humberside", "kent",
    "lancashire", "leicestershire", "lincolnshire", "merseyside", "metropolitan", "norfolk", "north-wales",
    "north-yorkshire", "northamptonshire", "northumbria", "nottinghamshire", "south-wales", "south-yorkshire",
    "staffordshire", "suffolk", "surrey", "sussex", "thames-valley", "warwickshire", "west-mercia",
    "west-midlands", "west-yorkshire", "wiltshire",
]
# relative size (population share, roughly): the Met is ~15% of England and Wales, City of London tiny
BIG = {"metropolitan": 14.0, "west-midlands": 4.9, "greater-manchester": 4.9, "west-yorkshire": 4.0,
       "thames-valley": 4.0, "hampshire": 3.3, "kent": 3.1, "essex": 3.0, "lancashire": 2.5,
       "avon-and-somerset": 2.9, "devon-and-cornwall": 3.0, "sussex": 2.8, "merseyside": 2.4,
       "northumbria": 2.5, "south-yorkshire": 2.3, "city-of-london": 0.05}
CRIME_TYPES = [  # (type, share of records)
    ("Violence and sexual offences", 0.28), ("Anti-social behaviour", 0.12), ("Other theft", 0.11),
    ("Criminal damage and arson", 0.09), ("Vehicle crime", 0.08), ("Shoplifting", 0.08), ("Burglary", 0.06),
    ("Public order", 0.07), ("Drugs", 0.03), ("Bicycle theft", 0.02), ("Other crime", 0.02),
    ("Theft from the person", 0.02), ("Robbery", 0.01), ("Possession of weapons", 0.01),
]
LSOAS_PER_LAD = 110
DBT_SEEDS = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"
LSOA_POPULATION = 1_800


@dataclass(frozen=True)
class NationalData:
    root: Path
    months: list[str]
    street_files: list[Path]
    rows: int
    lsoas: int


def _force_weights() -> list[float]:
    return [BIG.get(f, 1.3) for f in FORCES]


def write_reference(con: duckdb.DuckDBPyConnection, root: Path, total_lsoas: int) -> int:
    """ONS lookups and population for synthetic areas: force → districts → LSOAs."""
    weights = _force_weights()
    scale = total_lsoas / sum(weights)
    rows, lsoa = [], 0
    for f, (force, weight) in enumerate(zip(FORCES, weights, strict=True), 1):
        n_lsoa = max(30, round(weight * scale))
        n_lad = max(1, n_lsoa // LSOAS_PER_LAD)
        for k in range(n_lsoa):
            lad = f * 10 + min(k * n_lad // n_lsoa, 9)
            rows.append((force, f, lad, lsoa))
            lsoa += 1
    con.execute("CREATE OR REPLACE TEMP TABLE area (force VARCHAR, f INTEGER, lad INTEGER, lsoa INTEGER)")
    con.executemany("INSERT INTO area VALUES (?, ?, ?, ?)", rows)
    # the force areas' real codes (the police_force seed: the platform counts a force-month as
    # delivered through them); MSOAs of five LSOAs within one district, never across two
    seed = DBT_SEEDS / "police_force.csv"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE area_codes AS SELECT force, f, lsoa,
        printf('E01%06d', 500000 + lsoa) AS lsoa_code, printf('Bench %03d%s', lad, chr(65 + lsoa % 26)) AS lsoa_name,
        printf('E02%06d', 500000 + msoa) AS msoa_code, printf('Bench MSOA %06d', msoa) AS msoa_name,
        printf('E07900%03d', lad) AS lad_code, printf('Bench district %03d', lad) AS lad_name,
        printf('E22900%03d', lad) AS csp_code, printf('Bench CSP %03d', lad) AS csp_name,
        s.pfa_code, initcap(replace(force, '-', ' ')) AS pfa_name,
        printf('E1200000%d', 1 + f % 9) AS region_code
        FROM (SELECT *, dense_rank() OVER (ORDER BY lad, lsoa // 5) AS msoa FROM area) AS area
        JOIN read_csv('{seed}') AS s ON s.force_id = area.force""")
    ons, population = root / "reference" / "ons", root / "reference" / "population"
    ons.mkdir(parents=True, exist_ok=True)
    population.mkdir(parents=True, exist_ok=True)
    copies = {
        "LSOA21_WD24_LAD24_EW_LU.csv": ("SELECT lsoa_code AS LSOA21CD, lsoa_name AS LSOA21NM, "
                                        "lad_code AS LAD24CD, lad_name AS LAD24NM FROM area_codes"),
        "LAD24_CSP24_PFA24_EW_LU.csv": ("SELECT DISTINCT lad_code AS LAD24CD, lad_name AS LAD24NM, csp_code AS CSP24CD, "
                                        "csp_name AS CSP24NM, pfa_code AS PFA24CD, pfa_name AS PFA24NM FROM area_codes"),
        "LAD24_RGN24_EN_LU.csv": ("SELECT DISTINCT lad_code AS LAD24CD, lad_name AS LAD24NM, "
                                  "region_code AS RGN24CD, 'Region ' || region_code AS RGN24NM FROM area_codes"),
        "LSOA21_MSOA21_EW_LU.csv": ("SELECT lsoa_code AS LSOA21CD, lsoa_name AS LSOA21NM, "
                                    "msoa_code AS MSOA21CD, msoa_name AS MSOA21NM FROM area_codes"),
    }
    for name, query in copies.items():
        con.execute(f"COPY ({query} ORDER BY ALL) TO '{ons / name}' (HEADER, DELIMITER ',')")
    # small-area estimates layout: LSOA totals split evenly over ages 0–90 by sex
    per_cell = LSOA_POPULATION // 182
    ages = ", ".join([f"{per_cell} AS F{a}" for a in range(91)] + [f"{per_cell} AS M{a}" for a in range(91)])
    con.execute(f"""COPY (SELECT lad_code AS "LAD 2023 Code", lad_name AS "LAD 2023 Name", lsoa_code AS "LSOA 2021 Code",
                                 lsoa_name AS "LSOA 2021 Name", {per_cell * 182} AS Total, {ages}
                          FROM area_codes ORDER BY lsoa_code)
                    TO '{population / "sapelsoasyoa_mid2024.csv"}' (HEADER, DELIMITER ',')""")
    return lsoa


def write_month(con: duckdb.DuckDBPyConnection, root: Path, month: str, rows_per_month: int, seed: int = 1) -> list[Path]:
    """One street file per force for `month`, rows shared by force population."""
    out = []
    cumulative, edges = 0.0, []
    for crime_type, share in CRIME_TYPES:
        cumulative += share
        edges.append((crime_type, cumulative))
    case = "CASE " + " ".join(f"WHEN u < {edge:.4f} THEN '{t}'" for t, edge in edges[:-1]) + f" ELSE '{edges[-1][0]}' END"
    for force, n, path, name in _force_files(root, month, "street", rows_per_month):
        con.execute(f"""
            COPY (
                WITH lsoas AS (SELECT row_number() OVER (ORDER BY lsoa) - 1 AS i, lsoa_code, lsoa_name
                               FROM area_codes WHERE force = '{force}'),
                     r AS (SELECT range AS n, hash({seed}, '{month}', '{force}', range) AS h FROM range({n})),
                     drawn AS (SELECT n, h, (h % 10000) / 10000.0 AS u, (h // 10000) % 100 AS p,
                                      (h // 1000000) % (SELECT count(*) FROM lsoas) AS i FROM r)
                SELECT CASE WHEN t = 'Anti-social behaviour' THEN '' ELSE sha256('{seed}{month}{force}' || n) END AS "Crime ID",
                       '{month}' AS "Month", '{name}' AS "Reported by", '{name}' AS "Falls within",
                       CASE WHEN p < 2 THEN NULL ELSE round(-2.5 + (h % 1000) / 250.0, 6) END AS "Longitude",
                       CASE WHEN p < 2 THEN NULL ELSE round(51.0 + (h % 997) / 400.0, 6) END AS "Latitude",
                       CASE WHEN p < 2 THEN 'No Location' ELSE 'On or near High Street' END AS "Location",
                       CASE WHEN p < 2 THEN NULL ELSE l.lsoa_code END AS "LSOA code",
                       CASE WHEN p < 2 THEN NULL ELSE l.lsoa_name END AS "LSOA name",
                       t AS "Crime type",
                       CASE WHEN t = 'Anti-social behaviour' THEN NULL
                            WHEN p < 40 THEN 'Investigation complete; no suspect identified'
                            WHEN p < 75 THEN 'Unable to prosecute suspect'
                            WHEN p < 85 THEN 'Under investigation'
                            ELSE 'Awaiting court outcome' END AS "Last outcome category",
                       NULL AS "Context"
                FROM (SELECT *, {case} AS t FROM drawn) d JOIN lsoas l USING (i)
                ORDER BY n
            ) TO '{path}' (HEADER, DELIMITER ',')""")
        out.append(path)
    return out


def write_outcomes(con: duckdb.DuckDBPyConnection, root: Path, month: str, crime_months: list[str],
                   rows_per_month: int, seed: int = 1, share: int = 20) -> list[Path]:
    """One outcomes file per force for `month`, as police.uk archives carry: outcomes recorded that
    month for about 1 in `share` of the records of each earlier month (referred to by Crime ID, as
    write_month draws them), a third of them charges."""
    out = []
    months = ", ".join(f"('{m}')" for m in crime_months)
    for force, n, path, name in _force_files(root, month, "outcomes", rows_per_month):
        con.execute(f"""
            COPY (
                SELECT sha256('{seed}' || m || '{force}' || r.range) AS "Crime ID", '{month}' AS "Month",
                       '{name}' AS "Reported by", '{name}' AS "Falls within", NULL AS "Longitude",
                       NULL AS "Latitude", 'On or near High Street' AS "Location", NULL AS "LSOA code",
                       NULL AS "LSOA name",
                       CASE WHEN hash({seed}, m, '{force}', r.range, 'charged') % 3 = 0 THEN 'Suspect charged'
                            ELSE 'Investigation complete; no suspect identified' END AS "Outcome type"
                FROM (VALUES {months}) AS c(m), range({n}) AS r
                WHERE hash({seed}, m, '{force}', r.range, 'outcome') % {share} = 0
                ORDER BY m, r.range
            ) TO '{path}' (HEADER, DELIMITER ',')""")
        out.append(path)
    return out


def _force_files(root: Path, month: str, kind: str, rows_per_month: int):
    """(force, its rows in the month by population share, file path, force name) per force."""
    weights = _force_weights()
    (root / "police" / month).mkdir(parents=True, exist_ok=True)
    for force, weight in zip(FORCES, weights, strict=True):
        name = "Metropolitan Police Service" if force == "metropolitan" else f"{initcap(force)} Police"
        yield (force, round(rows_per_month * weight / sum(weights)),
               root / "police" / month / f"{month}-{force}-{kind}.csv", name)


def initcap(force: str) -> str:
    return " ".join(w.capitalize() for w in force.split("-"))


def generate(root: Path, rows: int = 6_500_000, months: list[str] | None = None, lsoas: int = 33_000) -> NationalData:
    months = months or [f"2025-{m:02d}" for m in range(1, 13)]
    root = Path(root)
    with duckdb.connect() as con:
        con.execute("CREATE MACRO initcap(s) AS list_aggregate(list_transform(string_split(s, ' '), "
                    "lambda w: upper(w[1]) || lower(w[2:])), 'string_agg', ' ')")
        n_lsoa = write_reference(con, root, lsoas)
        files = [p for month in months for p in write_month(con, root, month, rows // len(months))]
        total = con.execute("SELECT count(*) FROM read_csv(?, header = true, all_varchar = true)",
                            [[str(p) for p in files]]).fetchone()[0]
    return NationalData(root, months, files, total, n_lsoa)
