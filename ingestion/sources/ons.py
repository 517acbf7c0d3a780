"""ONS reference data in its published layouts (SOURCES.md §5): geography lookups and small-area
population estimates. Field names carry the vintage year (LAD24CD…); it is read from the header
and kept in `_vintage`, never hard-coded. Each lookup is a snapshot: a new delivery replaces it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import duckdb

from ingestion.codes import AREA_LEVELS
from ingestion.load import Column, FileRejected, LoadResult, Rule, SourceSpec, load_file

_V = r"(?P<vintage>\d{2})"


def _code_rule(column: str, level: str, header: str, allow_blank: bool = False) -> Rule:
    """The rule that a column holds codes of an area level (patterns from ingestion/codes.py)."""
    return Rule(f"{column}_format", AREA_LEVELS[level].code_rule_sql(column, allow_blank),
                f"{header} must be a {AREA_LEVELS[level].name} code ({AREA_LEVELS[level].code_pattern})")


def _lookup(name, table, columns, rules, key, description, area_level="lsoa") -> SourceSpec:
    return SourceSpec(
        name=name, raw_table=table, columns=(*columns, Column(None, "_vintage")), rules=rules, unique_key=key,
        replace_scope="table", description=description, refresh="reference", area_level=area_level,
        select_sql=lambda spec, attrs, staged: (
            "SELECT " + ", ".join(f"NULLIF(TRIM({c.name}), '') AS {c.name}" if c.name in staged
                                  else f"CAST(NULL AS VARCHAR) AS {c.name}" for c in spec.columns if c.header)
            + f", {_sql_vintage(attrs)} AS _vintage, _row_number, _file_index FROM _staged"),
    )


def _sql_vintage(attrs: dict[str, str]) -> str:
    return f"'{attrs['_vintage']}'" if attrs.get("_vintage") else "CAST(NULL AS VARCHAR)"


_LSOA21_LAD_RULES = (_code_rule("lsoa21_code", "lsoa", "LSOA21CD"), _code_rule("lad_code", "lad", "LADyyCD"),
                     _code_rule("utla_code", "utla", "UTLACD", allow_blank=True),
                     _code_rule("region_code", "region", "RGNCD", allow_blank=True))
_LSOA21_LAD_DESCRIPTION = "LSOA 2021 → (ward →) local authority district, best-fit, current vintage"

# The boundary files' attribute table, one row per LSOA 2021 with its district as it is now
# (LADCD_ACTIVE, no vintage in the name), upper tier and region (blank in Wales); no names.
LSOA21_LAD_ACTIVE = _lookup(
    "ons_lsoa21_lad", "raw.ons_lsoa21_lad",
    (Column("LSOA21CD", "lsoa21_code"), Column("LSOA21NM", "lsoa21_name"),
     Column("LADCD_ACTIVE", "lad_code"), Column("UTLACD", "utla_code", required=False),
     Column("RGNCD", "region_code", required=False)),
    _LSOA21_LAD_RULES, ("lsoa21_code",), _LSOA21_LAD_DESCRIPTION,
)

LSOA21_LAD = dataclasses.replace(_lookup(
    "ons_lsoa21_lad", "raw.ons_lsoa21_lad",
    (Column("LSOA21CD", "lsoa21_code"), Column("LSOA21NM", "lsoa21_name"),
     Column(rf"WD{_V}CD", "ward_code", required=False), Column(rf"WD{_V}NM", "ward_name", required=False),
     Column(rf"LAD{_V}CD", "lad_code"), Column(rf"LAD{_V}NM", "lad_name"),
     Column(rf"CTYUA{_V}CD", "utla_code", required=False), Column(rf"RGN{_V}CD", "region_code", required=False)),
    _LSOA21_LAD_RULES, ("lsoa21_code",), _LSOA21_LAD_DESCRIPTION,
), layouts=(LSOA21_LAD_ACTIVE,))

LAD_CSP_PFA = _lookup(
    "ons_lad_csp_pfa", "raw.ons_lad_csp_pfa",
    (Column(rf"LAD{_V}CD", "lad_code"), Column(rf"LAD{_V}NM", "lad_name"),
     Column(rf"CSP{_V}CD", "csp_code"), Column(rf"CSP{_V}NM", "csp_name"),
     Column(rf"PFA{_V}CD", "pfa_code"), Column(rf"PFA{_V}NM", "pfa_name")),
    # Wales numbers CSPs W14 and police force areas W15 (seen in the real lookup)
    (_code_rule("lad_code", "lad", "LADyyCD"), _code_rule("csp_code", "csp", "CSPyyCD"),
     _code_rule("pfa_code", "pfa", "PFAyyCD")),
    ("lad_code",),
    "local authority district → community safety partnership → police force area",
    area_level="lad",
)

LAD_HIERARCHY = _lookup(
    "ons_lad_hierarchy", "raw.ons_lad_hierarchy",
    # Either the ward-level WDyy_LADyy_CTYUAyy_RGNyy_CTRYyy lookup (one row per ward) or a
    # LADyy_RGNyy lookup: upper-tier, region and country columns are taken when present.
    (Column(rf"WD{_V}CD", "ward_code", required=False), Column(rf"WD{_V}NM", "ward_name", required=False),
     Column(rf"LAD{_V}CD", "lad_code"), Column(rf"LAD{_V}NM", "lad_name"),
     Column(rf"CTYUA{_V}CD", "utla_code", required=False), Column(rf"CTYUA{_V}NM", "utla_name", required=False),
     Column(rf"RGN{_V}CD", "region_code", required=False), Column(rf"RGN{_V}NM", "region_name", required=False),
     Column(rf"CTRY{_V}CD", "country_code", required=False), Column(rf"CTRY{_V}NM", "country_name", required=False)),
    (_code_rule("lad_code", "lad", "LADyyCD"), _code_rule("utla_code", "utla", "CTYUAyyCD", allow_blank=True),
     _code_rule("region_code", "region", "RGNyyCD", allow_blank=True),
     _code_rule("country_code", "country", "CTRYyyCD", allow_blank=True)),
    (),
    "local authority district → county / unitary authority → region → country",
    area_level="lad",
)

# Every district code used since 2011 (England, Wales, Scotland, Northern Ireland) with the
# district it lies in now (LADCD_ACTIVE; itself when Current) and that district's upper tier,
# region and country: boundary changes as data (int_lad_code_map), and the current districts'
# hierarchy (int_area_hierarchy). Wales has no region here.
LAD_ALL_CODES = _lookup(
    "ons_lad_all_codes", "raw.ons_lad_all_codes",
    (Column("LADCD", "lad_code"), Column("LADNM", "lad_name"),
     Column("LADCD_ACTIVE", "current_lad_code"), Column("LADNM_ACTIVE", "current_lad_name"),
     Column("UTLACD", "utla_code", required=False), Column("UTLANM", "utla_name", required=False),
     Column("RGNCD", "region_code", required=False), Column("RGNNM", "region_name", required=False),
     Column("CTRYCD", "country_code", required=False), Column("CTRYNM", "country_name", required=False),
     Column("Current", "is_current")),
    (Rule("lad_code_format", r"regexp_full_match(trim(lad_code), '[EWSN]\d{8}')", "LADCD must be an ONS district code"),
     Rule("current_lad_code_format", r"regexp_full_match(trim(current_lad_code), '[EWSN]\d{8}')",
          "LADCD_ACTIVE must be an ONS district code"),
     Rule("current_known", "upper(trim(is_current)) IN ('TRUE', 'FALSE')", "Current must be TRUE or FALSE"),
     Rule("current_is_its_own_successor",
          "upper(trim(is_current)) = 'FALSE' OR trim(lad_code) = trim(current_lad_code)",
          "a current district (Current TRUE) must be its own LADCD_ACTIVE")),
    ("lad_code",),
    "every local authority district code since 2011 → the current district it lies in, with its "
    "upper tier, region and country",
    area_level="lad",
)

LSOA21_MSOA21 = _lookup(
    "ons_lsoa21_msoa21", "raw.ons_lsoa21_msoa21",
    (Column("OA21CD", "oa21_code", required=False),
     Column("LSOA21CD", "lsoa21_code"), Column("LSOA21NM", "lsoa21_name"),
     Column("MSOA21CD", "msoa21_code"), Column("MSOA21NM", "msoa21_name")),
    (_code_rule("lsoa21_code", "lsoa", "LSOA21CD"), _code_rule("msoa21_code", "msoa", "MSOA21CD")),
    (),
    "output area → LSOA 2021 → MSOA 2021 (one row per OA, or per LSOA)",
)

LSOA11_LSOA21 = _lookup(
    "ons_lsoa11_lsoa21", "raw.ons_lsoa11_lsoa21",
    # the exact lookup has F_LSOA11CD and CHGIND; the best-fit lookup has LSOA11CD and no CHGIND
    (Column("(F_)?LSOA11CD", "lsoa11_code"), Column("LSOA11NM", "lsoa11_name", required=False),
     Column("CHGIND", "change_indicator", required=False),
     Column("LSOA21CD", "lsoa21_code"), Column("LSOA21NM", "lsoa21_name", required=False),
     Column(rf"LAD{_V}CD", "lad_code", required=False), Column(rf"LAD{_V}NM", "lad_name", required=False)),
    (_code_rule("lsoa11_code", "lsoa", "LSOA11CD"), _code_rule("lsoa21_code", "lsoa", "LSOA21CD"),
     Rule("change_indicator_known", "change_indicator IS NULL OR change_indicator IN ('U', 'S', 'M', 'X')",
          "CHGIND must be U (unchanged), S (split), M (merged) or X (irregular)")),
    ("lsoa11_code", "lsoa21_code"),
    "LSOA 2011 → LSOA 2021 with the ONS change indicator",
)

# Where each LSOA 2021 is, in WGS84 degrees: ONS's population-weighted centroids (the layout
# with x = longitude, y = latitude) or the LAT/LONG of the boundaries' attribute table. Used to
# place stop-and-search coordinates in LSOAs. British National Grid eastings/northings fail the
# range rules, so a file in metres is refused rather than silently placing every search at sea.
def _centroid(latitude: str, longitude: str) -> SourceSpec:
    return _lookup(
        "ons_lsoa21_centroid", "raw.ons_lsoa21_centroid",
        (Column("LSOA21CD", "lsoa21_code"), Column("LSOA21NM", "lsoa21_name", required=False),
         Column(latitude, "latitude"), Column(longitude, "longitude")),
        (_code_rule("lsoa21_code", "lsoa", "LSOA21CD"),
         Rule("latitude_in_england_wales", "TRY_CAST(latitude AS DOUBLE) BETWEEN 49.8 AND 56.0",
              "latitude must be WGS84 degrees within England and Wales (49.8 to 56.0), not a BNG northing"),
         Rule("longitude_in_england_wales", "TRY_CAST(longitude AS DOUBLE) BETWEEN -6.5 AND 2.0",
              "longitude must be WGS84 degrees within England and Wales (-6.5 to 2.0), not a BNG easting")),
        ("lsoa21_code",),
        "LSOA 2021 centroid (population-weighted) in WGS84 latitude and longitude",
    )


LSOA21_CENTROID_XY = _centroid("y", "x")   # the point layer's CSV export: x = longitude, y = latitude
LSOA21_CENTROID = dataclasses.replace(_centroid(r"(?i)lat(itude)?", r"(?i)long?(itude)?"),
                                      layouts=(LSOA21_CENTROID_XY,))

IMD2019_LSOA11 = SourceSpec(
    name="mhclg_imd2019_lsoa11",
    raw_table="raw.imd2019_lsoa11",
    description="English Indices of Deprivation 2019: IMD rank and decile by LSOA 2011",
    columns=(
        Column(r"(?i)lsoa11cd|LSOA code \(2011\)", "lsoa11_code"),
        Column(r"(?i)lsoa11nm|LSOA name \(2011\)", "lsoa11_name", required=False),
        Column(r"(?i)IMDRank|Index of Multiple Deprivation \(IMD\) Rank.*", "imd_rank", "INTEGER", required=False),
        Column(r"(?i)IMDDecil|IMDDecile|Index of Multiple Deprivation \(IMD\) Decile.*", "imd_decile", "INTEGER"),
    ),
    rules=(
        _code_rule("lsoa11_code", "lsoa", "LSOA code (2011)"),
        # Welsh LSOAs carry 0 in GB-wide copies: England's IMD does not rank them
        Rule("decile_range", r"regexp_full_match(imd_decile, '\d+') AND CAST(imd_decile AS INTEGER) BETWEEN 0 AND 10",
             "IMD decile must be a whole number from 1 to 10 (0 for Wales)"),
    ),
    unique_key=("lsoa11_code",),
    replace_scope="table",
    refresh="reference", area_level="lsoa",
)


def _population_select(spec: SourceSpec, attrs: dict[str, str], staged: list[str]) -> str:
    # Wide F0…F90 / M0…M90 columns → one row per LSOA × sex × single year of age (90 = 90+).
    # Thousands separators appear in some ONS releases, hence the replace().
    return """
        SELECT lsoa21_code,
               CAST({year} AS SMALLINT) AS year,
               CASE WHEN left(sex_age, 1) = 'f' THEN 'F' ELSE 'M' END AS sex,
               CAST(substr(sex_age, 2) AS SMALLINT) AS age,
               CAST(replace(population, ',', '') AS INTEGER) AS population,
               _row_number, _file_index
        FROM (UNPIVOT _staged ON COLUMNS('^[fm][0-9]+$') INTO NAME sex_age VALUE population)"""


POPULATION_LSOA = SourceSpec(
    name="ons_population_lsoa",
    raw_table="raw.ons_population_lsoa",
    description="ONS mid-year small-area population estimates: LSOA 2021 × sex × single year of age",
    file_pattern=r".*mid-?(?P<year>\d{4}).*\.csv",
    columns=(
        # the LSOA's name and authority are read, not stored: the ONS lookups hold them, and
        # repeated on each of an LSOA's 182 unpivoted rows they were a third of this load's time
        Column(r"LAD \d{4} Code", "lad_code", stored=False), Column(r"LAD \d{4} Name", "lad_name", stored=False),
        Column("LSOA 2021 Code", "lsoa21_code"), Column("LSOA 2021 Name", "lsoa21_name", stored=False),
        Column("Total", "total", stored=False),
        # the wide F0…F90 / M0…M90 columns (extra_columns_pattern) unpivot into these
        Column(None, "year", "SMALLINT"), Column(None, "sex"), Column(None, "age", "SMALLINT"),
        Column(None, "population", "INTEGER"),
    ),
    refresh="reference", area_level="lsoa", period_type="calendar_year",
    extra_columns_pattern=r"[FM]\d{1,2}\+?",
    rules=(
        _code_rule("lsoa21_code", "lsoa", "LSOA 2021 Code"),
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
)

def _population_area_select(spec: SourceSpec, attrs: dict[str, str], staged: list[str]) -> str:
    # one row per area × sex × single year of age; "Persons" rows are the sum of the other two
    # and are left out so nothing is counted twice
    return """
        SELECT area_code, area_name, geography,
               CAST(year(CAST(period AS DATE)) AS SMALLINT) AS year,
               CASE sex WHEN 'Females' THEN 'F' ELSE 'M' END AS sex,
               CAST(age AS SMALLINT) AS age,
               CAST(replace(population, ',', '') AS INTEGER) AS population,
               _row_number, _file_index
        FROM (UNPIVOT (SELECT * FROM _staged WHERE sex <> 'Persons')
              ON COLUMNS('^[0-9]+$') INTO NAME age VALUE population)"""


POPULATION_AREA = SourceSpec(
    name="ons_population_area",
    raw_table="raw.ons_population_area",
    description="Mid-year population estimates in the long-by-sex layout (period, area_code, geography, "
                "sex, all_ages, 0…90+) used for both LSOAs and local authorities",
    file_pattern=r".*\.csv",
    columns=(
        Column("period", "period", stored=False), Column("area_code", "area_code"), Column("area_name", "area_name"),
        Column("geography", "geography"), Column(None, "year", "SMALLINT"), Column("sex", "sex"),
        Column("all_ages", "all_ages", stored=False), Column(None, "age", "SMALLINT"),
        Column(None, "population", "INTEGER"),
    ),
    refresh="reference", area_level="lsoa", period_type="calendar_year",
    extra_columns_pattern=r"\d{1,2}\+?",
    rules=(
        Rule("period_is_a_date", "TRY_CAST(period AS DATE) IS NOT NULL", "period must be a date (YYYY-06-30)"),
        Rule("area_code_format", r"regexp_full_match(area_code, '[EWSNK]\d{8}')", "area_code must be an ONS code"),
        Rule("sex_known", "sex IN ('Persons', 'Females', 'Males')", "sex must be Persons, Females or Males"),
        Rule("all_ages_equals_sum_of_ages",
             "CAST(replace(all_ages, ',', '') AS BIGINT) = list_sum(list_transform("
             "list_value(*COLUMNS('^[0-9]+$')), lambda x: CAST(replace(x, ',', '') AS BIGINT)))",
             "all_ages must equal the sum of the single-year counts"),
    ),
    unique_key=("period", "area_code", "sex"),
    select_sql=_population_area_select,
)


def _population_lsoa11_select(spec: SourceSpec, attrs: dict[str, str], staged: list[str]) -> str:
    # one row per LSOA 2011 × sex × age band × year: the wide year columns (2016, 2017, …)
    # unpivot; "0-4 years" gives ages 0 to 4, "85+ years" 85 and over (age_to null)
    return """
        SELECT lsoa11_code, lsoa11_name,
               CAST(year AS SMALLINT) AS year,
               CASE sex WHEN 'Female' THEN 'F' ELSE 'M' END AS sex,
               CAST(regexp_extract(age_group, '^(\\d+)', 1) AS SMALLINT) AS age_from,
               CAST(nullif(regexp_extract(age_group, '^\\d+-(\\d+) years$', 1), '') AS SMALLINT) AS age_to,
               CAST(replace(population, ',', '') AS INTEGER) AS population,
               _row_number, _file_index
        FROM (UNPIVOT _staged ON COLUMNS('^[0-9]{4}$') INTO NAME year VALUE population)"""


POPULATION_LSOA11 = SourceSpec(
    name="ons_population_lsoa11",
    raw_table="raw.ons_population_lsoa11",
    description="Mid-year population estimates by LSOA 2011, sex and five-year age band, one column per "
                "year (LSOA11CD, Age_group, Sex, 2016…2020); brought to LSOAs 2021 in dbt",
    file_pattern=r".*\.csv",
    columns=(
        Column("LSOA11CD", "lsoa11_code"), Column("LSOA11NM", "lsoa11_name", required=False),
        Column("Age_group", "age_group", stored=False), Column("Sex", "sex"),
        # the file's own total over its years (2016_20), checked against the years
        Column(r"\d{4}_\d{2}", "years_total", stored=False, required=False),
        # the wide year columns (extra_columns_pattern) unpivot into these
        Column(None, "year", "SMALLINT"), Column(None, "age_from", "SMALLINT"), Column(None, "age_to", "SMALLINT"),
        Column(None, "population", "INTEGER"),
    ),
    refresh="reference", area_level="lsoa", period_type="calendar_year",
    extra_columns_pattern=r"\d{4}",
    rules=(
        _code_rule("lsoa11_code", "lsoa", "LSOA11CD"),
        Rule("sex_known", "sex IN ('Female', 'Male')", "Sex must be Female or Male"),
        Rule("age_group_format", r"regexp_full_match(age_group, '\d+-\d+ years|\d+\+ years')",
             "Age_group must be like '10-14 years' or '85+ years'"),
        Rule("counts_are_whole_numbers",
             r"list_bool_and(list_transform(list_value(*COLUMNS('^[0-9]{4}$')), "
             r"lambda x: regexp_full_match(replace(x, ',', ''), '\d+')))",
             "every year's count must be a whole number"),
        Rule("years_total_equals_sum_of_years",
             "coalesce(CAST(replace(years_total, ',', '') AS BIGINT), -1) IN (-1, list_sum(list_transform("
             "list_value(*COLUMNS('^[0-9]{4}$')), lambda x: CAST(replace(x, ',', '') AS BIGINT))))",
             "the total over the years (e.g. 2016_20) must equal the sum of the year columns"),
    ),
    unique_key=("lsoa11_code", "age_group", "sex"),
    replace_scope="table",
    select_sql=_population_lsoa11_select,
)


def spec_for_lookup(path: Path) -> SourceSpec:
    """Pick the lookup spec from the file's header (names vary by vintage, so by pattern)."""
    from ingestion.load import read_header

    header = set(read_header(path))
    names = " ".join(sorted(header))
    has = lambda pattern: any(re.fullmatch(pattern, h) for h in header)  # noqa: E731
    if has(r"(F_)?LSOA11CD"):
        return LSOA11_LSOA21
    if has("LSOA21CD") and has(r"(?i)lat(itude)?") and has(r"(?i)long?(itude)?"):
        return LSOA21_CENTROID
    if has("LSOA21CD") and has("x") and has("y"):
        return LSOA21_CENTROID_XY
    if has("MSOA21CD"):
        return LSOA21_MSOA21
    if has("LSOA21CD"):
        return LSOA21_LAD.layout_for(path)
    if has("LADCD") and has("LADCD_ACTIVE"):
        return LAD_ALL_CODES
    if has(r"CSP\d{2}CD") and has(r"PFA\d{2}CD"):
        return LAD_CSP_PFA
    if has(r"LAD\d{2}CD") and (has(r"RGN\d{2}CD") or has(r"CTYUA\d{2}CD") or has(r"CTRY\d{2}CD")):
        return LAD_HIERARCHY
    raise FileRejected(path, "known_lookup", f"not a recognised ONS lookup (columns: {names[:200]})")


def load_lookup(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, spec_for_lookup(Path(path)), path)


POPULATION_LAYOUTS = (POPULATION_LSOA, POPULATION_AREA, POPULATION_LSOA11)


def spec_for_population(path: Path) -> SourceSpec:
    """The population layout whose required columns (as each declaration names them) the file's
    header has: the small-area workbook (LSOA 2021 Code, F0…M90), the long-by-sex layout
    (period, area_code, sex, 0…90+) or LSOA 2011 × age band × sex with a column per year.
    Population releases differ between years; a layout is told by column names, never position."""
    from ingestion.load import read_header

    header = read_header(path)
    for spec in POPULATION_LAYOUTS:
        if all(any(re.fullmatch(c.header, h) for h in header) for c in spec.columns if c.header and c.required):
            return spec
    raise FileRejected(path, "known_population_layout",
                       f"not a recognised population layout (columns: {', '.join(sorted(header))[:200]})")


def load_population(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, spec_for_population(Path(path)), path)


def load_imd(con: duckdb.DuckDBPyConnection, path: Path | str) -> LoadResult:
    return load_file(con, IMD2019_LSOA11, path)


SOURCES = (LSOA21_LAD, LAD_CSP_PFA, LAD_HIERARCHY, LAD_ALL_CODES, LSOA21_MSOA21, LSOA11_LSOA21, LSOA21_CENTROID,
           POPULATION_LSOA, POPULATION_AREA, POPULATION_LSOA11, IMD2019_LSOA11)
