"""Great Expectations suite for the published indicator mart (marts.fct_indicator_value)."""

from __future__ import annotations


def contract_columns(model: str = "fct_indicator_value") -> list[str]:
    """The mart's columns as its dbt contract declares them (models/marts/_marts__models.yml):
    the list is written there only."""
    from ingestion.settings import DBT_PROJECT_DIR, read_yaml

    models = read_yaml(DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml")["models"]
    return [c["name"] for c in next(m for m in models if m["name"] == model)["columns"]]


def build_suite():
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    from expectations.unique_key import expect_unique_key
    from ingestion.codes import AREA_LEVELS, COMPARISONS, PERIOD_TYPES, VALUE_NOTES

    suite = gx.ExpectationSuite(name="fct_indicator_value")
    why = lambda text: {"why": text}  # noqa: E731
    for expectation in [
        gxe.ExpectTableColumnsToMatchSet(column_set=contract_columns(), exact_match=True,
                                         meta=why("the published contract (PRODUCT.md)")),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=why("an empty mart is never published")),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c, meta=why("key and count columns are always filled"))
          for c in ("indicator_id", "area_code", "area_type", "period_type", "period_start",
                    "period_end", "is_suppressed")],
        gxe.ExpectColumnValuesToNotBeNull(column="denominator", row_condition=Column("value_note").is_null(),
                                          meta=why("every delivered value has its population; a not-delivered row has none")),
        gxe.ExpectColumnValuesToBeNull(column="value", row_condition=Column("value_note").is_not_null(),
                                       meta=why("an area-period not delivered is never shown as a value (a low rate)")),
        gxe.ExpectColumnValuesToBeInSet(column="value_note", value_set=list(VALUE_NOTES)),
        gxe.ExpectColumnValuesToBeInSet(column="area_type", value_set=list(AREA_LEVELS)),
        gxe.ExpectColumnValuesToBeInSet(column="period_type", value_set=list(PERIOD_TYPES)),
        gxe.ExpectColumnValuesToBeInSet(column="comparison", value_set=list(COMPARISONS)),
        gxe.ExpectColumnValuesToBeInSet(column="comparison_with_england", value_set=list(COMPARISONS)),
        gxe.ExpectColumnValuesToBeBetween(column="numerator", min_value=0, meta=why("counts are never negative")),
        gxe.ExpectColumnValuesToBeBetween(column="denominator", min_value=0, strict_min=True,
                                          meta=why("a rate needs a population")),
        gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="value", column_B="lower_ci_95", or_equal=True, ignore_row_if="either_value_is_missing",
            meta=why("the lower confidence limit never exceeds the value")),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="upper_ci_95", column_B="value", or_equal=True, ignore_row_if="either_value_is_missing",
            meta=why("the upper confidence limit is never below the value")),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="lower_ci_95", column_B="lower_ci_998", or_equal=True, ignore_row_if="either_value_is_missing",
            meta=why("the 99.8% interval contains the 95% interval")),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="funnel_lower_95", column_B="funnel_lower_998", or_equal=True, ignore_row_if="either_value_is_missing",
            meta=why("the funnel's 99.8% control limits lie outside its 95% ones")),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="funnel_upper_998", column_B="funnel_upper_95", or_equal=True, ignore_row_if="either_value_is_missing",
            meta=why("the funnel's 99.8% control limits lie outside its 95% ones")),
        expect_unique_key(["indicator_id", "area_code", "area_type", "period_type", "period_start"],
                          meta=why("one value per indicator, area and period")),
    ]:
        suite.add_expectation(expectation)
    return suite
