"""Great Expectations suites as code, run by ingestion/quality.py: one per gated raw source,
derived from its declaration (raw_delivery.py), and one per checked mart."""

from __future__ import annotations

from collections.abc import Callable


def suites() -> dict[str, Callable[[], object]]:
    """Every suite by name, each a function building it."""
    from expectations import fct_indicator_value, raw_delivery
    from ingestion.sources import gated_sources

    found: dict[str, Callable[[], object]] = {"fct_indicator_value": fct_indicator_value.build_suite}
    for spec in gated_sources():
        found[spec.gx_suite] = lambda spec=spec: raw_delivery.build_suite(spec)
    return found
