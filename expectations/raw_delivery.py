"""The Great Expectations suite of a raw source, derived from its declaration (ingestion/load.py
`SourceSpec`): the raw table's exact columns, at least one row, each column's declared checks
(not null, a code list, an area level's code pattern, a regex, bounds), the load metadata, one raw
row per file row, the declared unique key, and any extra expectations the source adds."""

from __future__ import annotations


def build_suite(spec):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    from expectations.unique_key import expect_unique_key
    from ingestion.codes import AREA_LEVELS

    suite = gx.ExpectationSuite(name=spec.gx_suite)
    declared = {"why": f"declared in source {spec.name} (ingestion/sources)"}
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(column_set=spec.raw_columns, exact_match=True,
                                         meta={"why": "the source's raw schema; a change means a declaration change"}),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta={"why": "an empty delivery is never a real one"}),
    ]
    for column in spec.stored_columns:
        if column.not_null:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column.name, meta=declared))
        if column.values is not None:
            expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=list(column.values),
                                                                meta=declared))
        for pattern in filter(None, [column.pattern,
                                     column.area_level and AREA_LEVELS[column.area_level].code_pattern]):
            expectations.append(gxe.ExpectColumnValuesToMatchRegex(column=column.name, regex=f"^(?:{pattern})$",
                                                                   meta=declared))
        if column.between is not None:
            low, high = column.between
            expectations.append(gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value=low, max_value=high,
                                                                  meta=declared))
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column=c, meta={"why": "load metadata is always written"})
                     for c in ("_load_id", "_source_file", "_row_number")]
    expectations.append(expect_unique_key(
        ["_source_file", "_row_number", *spec.unpivoted_by],
        meta={"why": "one raw row per file row (per unpivoted column): a re-delivery replaces, never doubles"}))
    if spec.unique_key:
        expectations.append(expect_unique_key(["_source_file", *spec.unique_key, *spec.unpivoted_by], meta=declared))
    expectations += [make() for make in spec.extra_expectations]
    for expectation in expectations:
        suite.add_expectation(expectation)
    return suite
