"""A code list of local authorities as published (Area_Code, Area_Name, Type, Population): one row
per authority of the UK, lower-tier districts (E07), unitary authorities (E06, E08, E09, W06,
S12, N09) and English counties (E10), each with its tier and a population.

It is its own source, not a layout of `ons_lad_all_codes`: that lookup gives every district code
since 2011 with the current district it lies in (LADCD_ACTIVE, Current) and the hierarchy above
it; this list has no successor, no region or country, and mixes tiers (counties beside their
districts), so its columns do not fit and reading it as boundary changes would invent them. Its
Population column names no year and the file says nothing of one (the real
population/Local_authority_codes.csv in ../shared/realdata), so it is kept as published and used
as no denominator: population estimates come from the declared population layouts, each with its
year. It is delivered in the reference `population/` folder; `spec_for_population_file` tells it
from the population estimates by its header."""

from __future__ import annotations

import re
from pathlib import Path

from ingestion.codes import AREA_LEVELS
from ingestion.load import Column, FileRejected, Rule, SourceSpec, read_header

LA_TYPES = ("Lower Tier Local Authority", "Upper Tier Local Authority", "Unitary Authority")

LA_CODE_LIST = SourceSpec(
    name="la_code_list",
    raw_table="raw.la_code_list",
    description="Local authorities of the UK (code, name, tier) with a population of unstated year, as published",
    columns=(
        Column("Area_Code", "area_code", not_null=True),
        Column("Area_Name", "area_name", not_null=True),
        Column("Type", "area_type", not_null=True, values=LA_TYPES),
        Column("Population", "population", "INTEGER", between=(0, None)),
    ),
    rules=(
        Rule("area_code_format", r"regexp_full_match(trim(area_code), '[EWSN]\d{8}')",
             "Area_Code must be an ONS/GSS code (a letter E, W, S or N and eight digits)"),
        Rule("english_welsh_code_is_a_district_or_upper_tier",
             f"NOT regexp_full_match(trim(area_code), '[EW].*') OR {AREA_LEVELS['lad'].code_rule_sql('area_code')} "
             f"OR {AREA_LEVELS['utla'].code_rule_sql('area_code')}",
             f"an English or Welsh Area_Code must be a district ({AREA_LEVELS['lad'].code_pattern}) "
             f"or upper tier ({AREA_LEVELS['utla'].code_pattern}) code"),
        Rule("type_known", "trim(area_type) IN ('" + "', '".join(LA_TYPES) + "')",
             "Type must be " + ", ".join(LA_TYPES[:-1]) + " or " + LA_TYPES[-1]),
        Rule("lower_tier_is_a_district",
             f"trim(area_type) <> 'Lower Tier Local Authority' OR {AREA_LEVELS['lad'].code_rule_sql('area_code')}",
             "a Lower Tier Local Authority must have a district code"),
        Rule("upper_tier_is_an_upper_tier",
             f"trim(area_type) <> 'Upper Tier Local Authority' OR {AREA_LEVELS['utla'].code_rule_sql('area_code')}",
             "an Upper Tier Local Authority must have an upper tier code"),
        Rule("population_is_a_whole_number", r"regexp_full_match(trim(population), '\d+')",
             "Population must be a whole number"),
    ),
    unique_key=("area_code",),
    replace_scope="table",
    refresh="reference", area_level="lad",
)


def spec_for_population_file(path: Path) -> SourceSpec:
    """A file of the reference `population/` folder: a population estimate in one of the declared
    layouts (ons.spec_for_population), else this code list when its header has the list's
    columns; otherwise refused by name as an unknown population layout."""
    from ingestion.sources.ons import spec_for_population

    try:
        return spec_for_population(path)
    except FileRejected:
        header = read_header(path)
        if all(any(re.fullmatch(c.header, h) for h in header) for c in LA_CODE_LIST.columns if c.required):
            return LA_CODE_LIST
        raise


SOURCES = (LA_CODE_LIST,)
