"""ONS reference data in its published layouts (SOURCES.md §5): geography lookups and small-area
population estimates. Field names carry the vintage year (LAD24CD…); it is read from the header
and kept in `_vintage`, never hard-coded. Each lookup is a snapshot: a new delivery replaces it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.load import Column, LoadResult, Rule, SourceSpec, load_file

_V = r"(?P<vintage>\d{2})"
_LSOA21 = r"regexp_full_match(lsoa21_code, '[EW]01\d{6}')"
_LAD = r"regexp_full_match(lad_code, '[EW]0[6789]\d{6}')"


def _lookup(name, table, columns, rules, key, description) -> SourceSpec:
    cols = ", ".join(f"{c.name} {c.sql_type}" for c in columns)
    return SourceSpec(
        name=name, raw_table=table, columns=columns, rules=rules, unique_key=key,
        replace_scope="table", description=description,
        select_sql=lambda spec, attrs, staged: (
            "SELECT " + ", ".join(f"NULLIF(TRIM({c.name}), '') AS {c.name}" for c in spec.columns)
            + f", {_sql_vintage(attrs)} AS _vintage, _row_number FROM _staged"),
        raw_ddl=f"""CREATE TABLE IF NOT EXISTS {table} ({cols}, _vintage VARCHAR,
            _load_id VARCHAR NOT NULL, _source_file VARCHAR NOT NULL, _source_sha256 VARCHAR NOT NULL,
            _loaded_at TIMESTAMP NOT NULL, _row_number BIGINT NOT NULL)""",
    )


def _sql_vintage(attrs: dict[str, str]) -> str:
    return f"'{attrs['_vintage']}'" if attrs.get("_vintage") else "CAST(NULL AS VARCHAR)"


LSOA21_LAD = _lookup(
    "ons_lsoa21_lad", "raw.ons_lsoa21_lad",
    (Column("LSOA21CD", "lsoa21_code"), Column("LSOA21NM", "lsoa21_name"),
     Column(rf"WD{_V}CD", "ward_code", required=False), Column(rf"WD{_V}NM", "ward_name", required=False),
     Column(rf"LAD{_V}CD", "lad_code"), Column(rf"LAD{_V}NM", "lad_name")),
    (Rule("lsoa21_code_format", _LSOA21, "LSOA21CD must be an E01/W01 code"),
     Rule("lad_code_format", _LAD, "LADyyCD must be an E06/E07/E08/E09/W06 district code")),
    ("lsoa21_code",),
    "LSOA 2021 → (ward →) local authority district, best-fit, current vintage",
)

LAD_CSP_PFA = _lookup(
    "ons_lad_csp_pfa", "raw.ons_lad_csp_pfa",
    (Column(rf"LAD{_V}CD", "lad_code"), Column(rf"LAD{_V}NM", "lad_name"),
     Column(rf"CSP{_V}CD", "csp_code"), Column(rf"CSP{_V}NM", "csp_name"),
     Column(rf"PFA{_V}CD", "pfa_code"), Column(rf"PFA{_V}NM", "pfa_name")),
    (Rule("lad_code_format", _LAD, "LADyyCD must be a district code"),
     Rule("csp_code_format", r"regexp_full_match(csp_code, '[EW]22\d{6}')", "CSPyyCD must be an E22/W22 code"),
     Rule("pfa_code_format", r"regexp_full_match(pfa_code, '[EW]23\d{6}')", "PFAyyCD must be an E23/W23 code")),
    ("lad_code",),
    "local authority district → community safety partnership → police force area",
)

LAD_REGION = _lookup(
    "ons_lad_region", "raw.ons_lad_region",
    (Column(rf"LAD{_V}CD", "lad_code"), Column(rf"LAD{_V}NM", "lad_name"),
     Column(rf"RGN{_V}CD", "region_code"), Column(rf"RGN{_V}NM", "region_name")),
    (Rule("lad_code_format", _LAD, "LADyyCD must be a district code"),
     Rule("region_code_format", r"regexp_full_match(region_code, 'E12\d{6}')", "RGNyyCD must be an E12 code")),
    ("lad_code",),
    "local authority district → region (England)",
)


def _population_select(spec: SourceSpec, attrs: dict[str, str], staged: list[str]) -> str:
    # Wide F0…F90 / M0…M90 columns → one row per LSOA × sex × single year of age (90 = 90+).
    # Thousands separators appear in some ONS releases, hence the replace().
    return f"""
        SELECT lad_code, lad_name, lsoa21_code, lsoa21_name,
               CAST({attrs['year']} AS SMALLINT) AS year,
               CASE WHEN left(sex_age, 1) = 'f' THEN 'F' ELSE 'M' END AS sex,
               CAST(substr(sex_age, 2) AS SMALLINT) AS age,
               CAST(replace(population, ',', '') AS INTEGER) AS population,
               _row_number
        FROM (UNPIVOT _staged ON COLUMNS('^[fm][0-9]+$') INTO NAME sex_age VALUE population)"""


POPULATION_LSOA = SourceSpec(
    name="ons_population_lsoa",
    raw_table="raw.ons_population_lsoa",
    description="ONS mid-year small-area population estimates: LSOA 2021 × sex × single year of age",
    file_pattern=r".*mid-?(?P<year>\d{4}).*\.csv",
    columns=(
        Column(r"LAD \d{4} Code", "lad_code"), Column(r"LAD \d{4} Name", "lad_name"),
        Column("LSOA 2021 Code", "lsoa21_code"), Column("LSOA 2021 Name", "lsoa21_name"),
        Column("Total", "total"),
    ),
    extra_columns_pattern=r"[FM]\d{1,2}\+?",
    rules=(
        Rule("lsoa21_code_format", _LSOA21, "LSOA 2021 Code must be an E01/W01 code"),
        Rule("counts_are_whole_numbers",
             r"regexp_full_match(replace(total, ',', ''), '\d+') AND "
             r"list_bool_and(list_transform(list_value(*COLUMNS('^[fm][0-9]+$')), "
             r"lambda x: regexp_full_match(replace(x, ',', ''), '\d+')))",
             "Total and every F/M age count must be a whole number"),
        Rule("total_equals_sum_of_ages",
             "CAST(replace(total, ',', '') AS BIGINT) = list_sum(list_transform("
             "list_value(*COLUMNS('^[fm][0-9]+$')), lambda x: CAST(replace(x, ',', '') AS BIGINT)))",
             "Total must equal the sum of the F and M single-year counts"),
    ),
    unique_key=("lsoa21_code",),
    replace_scope="group:year",
    select_sql=_population_select,
    raw_ddl="""CREATE TABLE IF NOT EXISTS raw.ons_population_lsoa (
        lad_code VARCHAR, lad_name VARCHAR, lsoa21_code VARCHAR, lsoa21_name VARCHAR,
        year SMALLINT, sex VARCHAR, age SMALLINT, population INTEGER,
        _load_id VARCHAR NOT NULL, _source_file VARCHAR NOT NULL, _source_sha256 VARCHAR NOT NULL,
        _loaded_at TIMESTAMP NOT NULL, _row_number BIGINT NOT NULL)""",
)

def spec_for_lookup(path: Path) -> SourceSpec:
    """Pick the lookup spec from the file's header (names vary by vintage, so by pattern)."""
    from ingestion.load import read_header

    header = " ".join(read_header(path))
    if "LSOA21CD" in header:
        return LSOA21_LAD
    if "CSP" in header and "PFA" in header:
        return LAD_CSP_PFA
    if "RGN" in header:
        return LAD_REGION
    raise ValueError(f"{path.name}: not a recognised ONS lookup (header: {header[:120]})")


def load_lookup(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, spec_for_lookup(Path(path)), path)


def load_population(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, POPULATION_LSOA, path)
