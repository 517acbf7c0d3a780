"""Great Expectations suite for a raw police.uk street batch (raw.police_street)."""

from __future__ import annotations

CRIME_TYPES = [
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery", "Shoplifting",
    "Theft from the person", "Vehicle crime", "Violence and sexual offences",
    "Violent crime", "Public disorder and weapons",  # legacy categories (files before 2013)
]
RAW_COLUMNS = [
    "crime_id", "month", "reported_by", "falls_within", "longitude", "latitude", "location",
    "lsoa_code", "lsoa_name", "crime_type", "last_outcome_category", "context",
    "_load_id", "_source_file", "_source_sha256", "_loaded_at", "_row_number",
]


def build_suite():
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name="raw_police_street")
    why = lambda text: {"why": text}  # noqa: E731 - shown in Data Docs
    for expectation in [
        gxe.ExpectTableColumnsToMatchSet(column_set=RAW_COLUMNS, exact_match=True,
                                         meta=why("the loader's raw schema; a change means a code change")),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=why("an empty delivery is never a real month")),
        gxe.ExpectColumnValuesToBeInSet(column="crime_type", value_set=CRIME_TYPES,
                                        meta=why("police.uk crime categories (SOURCES.md §1)")),
        gxe.ExpectColumnValuesToNotBeNull(column="month", meta=why("every record has a month")),
        gxe.ExpectColumnValuesToMatchRegex(column="lsoa_code", regex=r"^[EW]01[0-9]{6}$",
                                           meta=why("LSOA codes of England and Wales; blank when no location")),
        gxe.ExpectColumnValuesToBeBetween(column="longitude", min_value=-8.7, max_value=2.0,
                                          meta=why("map points lie in Great Britain")),
        gxe.ExpectColumnValuesToBeBetween(column="latitude", min_value=49.8, max_value=60.9,
                                          meta=why("map points lie in Great Britain")),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c, meta=why("load metadata is always written"))
          for c in ("_load_id", "_source_file", "_source_sha256", "_row_number")],
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["_source_file", "_row_number"],
                                            meta=why("one raw row per file row: a re-delivery replaces, never doubles")),
    ]:
        suite.add_expectation(expectation)
    return suite
