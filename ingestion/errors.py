"""One base type for every failure the platform explains to its user.

A `VruError`'s message says what failed and where (file, row, rule; indicator, area, period); its
`hint` says what to do. The CLI prints both and exits 1; the Airflow runner finds them in a task's
log by type (ingestion/airflow_runner.py), so neither matches on class names.
"""

from __future__ import annotations


class VruError(Exception):
    """A failure the user can act on. Subclasses set `hint`, or pass one per instance."""

    hint: str = ""

    def __init__(self, message: str = "", hint: str | None = None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint
