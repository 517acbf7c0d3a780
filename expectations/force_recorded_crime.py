"""Great Expectations suite for a raw force recorded-crime batch (raw.force_recorded_crime)."""

from __future__ import annotations

RAW_COLUMNS = [
    "force", "crime_reference", "recorded_date", "offence_code", "offence_description",
    "is_knife_or_sharp_instrument", "victim_age", "lsoa_code",
    "_load_id", "_source_file", "_source_sha256", "_loaded_at", "_row_number",
]


def build_suite():
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name="raw_force_recorded_crime")
    why = lambda text: {"why": text}  # noqa: E731 - shown in Data Docs
    for expectation in [
        gxe.ExpectTableColumnsToMatchSet(column_set=RAW_COLUMNS, exact_match=True,
                                         meta=why("the loader's raw schema; a change means a code change")),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=why("an empty extract is never a real month")),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c, meta=why("the loader's rules require it"))
          for c in ("force", "crime_reference", "recorded_date", "is_knife_or_sharp_instrument")],
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["_source_file", "crime_reference"],
                                            meta=why("one row per crime in a delivery")),
        gxe.ExpectColumnValuesToMatchRegex(column="offence_code", regex=r"^[0-9]{1,3}(?:[A-Z]{1,2}|/[0-9]{1,2})?$",
                                           meta=why("Home Office offence classification codes")),
        gxe.ExpectColumnValuesToBeBetween(column="victim_age", min_value=0, max_value=120,
                                          meta=why("ages in whole years; null when unknown")),
        gxe.ExpectColumnValuesToMatchRegex(column="lsoa_code", regex=r"^[EW]01[0-9]{6}$",
                                           meta=why("LSOA codes of England and Wales; null when not geocoded")),
        # A force flags knives in a few percent of its crimes; a file where most are flagged
        # means the mapping reads the flag the wrong way round.
        gxe.ExpectColumnMeanToBeBetween(column="is_knife_or_sharp_instrument", min_value=0, max_value=0.5,
                                        meta=why("knife-flagged crimes are a small minority: else the mapping's knife values are inverted")),
    ]:
        suite.add_expectation(expectation)
    return suite
