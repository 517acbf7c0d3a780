"""Great Expectations suites as code: one per raw source and per mart, run by ingestion/quality.py."""

from expectations import fct_indicator_value, force_recorded_crime, police_street

SUITES = {
    "raw_police_street": police_street.build_suite,
    "raw_force_recorded_crime": force_recorded_crime.build_suite,
    "fct_indicator_value": fct_indicator_value.build_suite,
}
