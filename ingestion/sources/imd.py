"""English Indices of Deprivation 2019 summarised by local authority district: for each district
and each of the ten indices and domains, the average of its LSOAs' ranks and scores, the share of
its LSOAs in England's most deprived tenth, and where each of these ranks among the districts.

The layout declared is the long one, a row per district × index or domain (lad19cd, lad19nm,
index_domain, average_rank, rank_average_rank, average_score, rank_average_score,
proportion_bottom_decile, rank_proportion_bottom_decile, year), as in the real IoD2019.csv in
../shared/realdata/deprivation. MHCLG's own File 10 workbook is wide (a sheet per domain) and is
not declared. Districts are those of the release (LAD 2019: the vintage is read from the header
and kept in `_vintage`); they are not mapped to later districts here and feed no indicator yet.

The LSOA-level IMD (`mhclg_imd2019_lsoa11`) stays declared in ons.py; `spec_for_deprivation`
tells a deprivation file's source by its header."""

from __future__ import annotations

import re
from pathlib import Path

from ingestion.codes import AREA_LEVELS
from ingestion.load import Column, FileRejected, Rule, SourceSpec, read_header

_V = r"(?P<vintage>\d{2})"

# the ten indices and domains of the English Indices of Deprivation 2019, as the file names them
IOD2019_DOMAINS = (
    "Index of Multiple Deprivation", "Income", "Employment", "Education, Skills and Training",
    "Health and Disability", "Crime", "Barriers to Housing and Services", "Living Environment",
    "Income Deprivation Affecting Children", "Income Deprivation Affecting Older People",
)
# England's LSOAs 2011, which the IMD 2019 ranks (1 = most deprived)
IMD2019_LSOAS = 32844
_RANK_COLUMNS = ("rank_average_rank", "rank_average_score", "rank_proportion_bottom_decile")


def _rank_rule(column: str) -> Rule:
    # a district's rank among the districts of its own file (317 in 2019); ties share a rank
    districts = "(SELECT count(DISTINCT s.lad_code) FROM _staged AS s WHERE s._file_index = _staged._file_index)"
    return Rule(f"{column}_in_range",
                rf"regexp_full_match(trim({column}), '\d+') AND CAST(trim({column}) AS INTEGER) BETWEEN 1 AND {districts}",
                f"{column} must be a whole number from 1 to the number of districts in the file")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _la_summary_select(spec: SourceSpec, attrs: dict[str, str], staged: list[str]) -> str:
    vintage = f"'{attrs['_vintage']}'" if attrs.get("_vintage") else "CAST(NULL AS VARCHAR)"
    typed = ", ".join(f"CAST(NULLIF(TRIM({c.name}), '') AS {c.sql_type}) AS {c.name}"
                      if c.sql_type != "VARCHAR" else f"NULLIF(TRIM({c.name}), '') AS {c.name}"
                      for c in spec.columns if c.header)
    return f"SELECT {typed}, {vintage} AS _vintage, _row_number, _file_index FROM _staged"


IMD_LA_SUMMARY = SourceSpec(
    name="imd_la_summary",
    raw_table="raw.imd2019_la_summary",
    description="English Indices of Deprivation 2019: local authority district summaries (average rank and "
                "score, share of LSOAs in the most deprived decile, and their ranks) for each index and domain",
    columns=(
        Column(rf"(?i)lad{_V}cd", "lad_code", not_null=True, area_level="lad"),
        Column(rf"(?i)lad{_V}nm", "lad_name", required=False),
        Column("index_domain", "index_domain", not_null=True, values=IOD2019_DOMAINS),
        Column("average_rank", "average_rank", "DOUBLE", between=(1, IMD2019_LSOAS)),
        Column("rank_average_rank", "rank_average_rank", "INTEGER", between=(1, None)),
        Column("average_score", "average_score", "DOUBLE"),
        Column("rank_average_score", "rank_average_score", "INTEGER", between=(1, None)),
        Column("proportion_bottom_decile", "proportion_bottom_decile", "DOUBLE", between=(0, 1)),
        Column("rank_proportion_bottom_decile", "rank_proportion_bottom_decile", "INTEGER", between=(1, None)),
        Column("year", "year", "SMALLINT"),
        Column(None, "_vintage"),
    ),
    rules=(
        Rule("lad_code_format", AREA_LEVELS["lad"].code_rule_sql("lad_code"),
             f"LADyyCD must be a {AREA_LEVELS['lad'].name} code ({AREA_LEVELS['lad'].code_pattern})"),
        Rule("index_domain_known", f"trim(index_domain) IN ({_quoted(IOD2019_DOMAINS)})",
             "index_domain must be one of the ten IoD 2019 indices and domains"),
        *(_rank_rule(c) for c in _RANK_COLUMNS),
        Rule("average_rank_in_range",
             f"TRY_CAST(average_rank AS DOUBLE) BETWEEN 1 AND {IMD2019_LSOAS}",
             f"average_rank must be a number from 1 to {IMD2019_LSOAS} (the LSOAs ranked)"),
        Rule("average_score_is_a_number", "TRY_CAST(average_score AS DOUBLE) IS NOT NULL",
             "average_score must be a number"),
        Rule("proportion_in_range", "TRY_CAST(proportion_bottom_decile AS DOUBLE) BETWEEN 0 AND 1",
             "proportion_bottom_decile must be a proportion from 0 to 1"),
        Rule("year_is_2019", "trim(year) = '2019'", "year must be 2019 (the English Indices of Deprivation 2019)"),
    ),
    unique_key=("lad_code", "index_domain"),
    replace_scope="table",
    refresh="reference", area_level="lad",
    select_sql=_la_summary_select,
)


def spec_for_deprivation(path: Path) -> SourceSpec:
    """The deprivation source whose required columns (as each declaration names them) the file's
    header has: IMD 2019 by LSOA 2011, or the local-authority summaries."""
    from ingestion.sources.ons import IMD2019_LSOA11

    header = read_header(path)
    for spec in (IMD2019_LSOA11, IMD_LA_SUMMARY):
        if all(any(re.fullmatch(c.header, h) for h in header) for c in spec.columns if c.header and c.required):
            return spec
    raise FileRejected(path, "known_deprivation_layout",
                       f"not a recognised IMD layout (columns: {', '.join(sorted(header))[:200]})")


SOURCES = (IMD_LA_SUMMARY,)
