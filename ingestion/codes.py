"""Code lists, each declared once in the dbt project and read here by the loaders and Great
Expectations, so Python never restates one.

- area levels and period types: dbt vars in `dbt_project/dbt_project.yml` (dbt's Jinja loops
  over them when it writes SQL, so they cannot be seeds);
- police.uk crime types and outcome groups: dbt seeds (`dbt_project/seeds/*.csv`, joined in SQL).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass

import yaml

from ingestion.settings import DBT_PROJECT_DIR


@functools.cache
def dbt_vars() -> dict:
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]


def seed_rows(name: str) -> list[dict[str, str]]:
    with open(DBT_PROJECT_DIR / "seeds" / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class AreaLevel:
    type: str
    name: str
    code_column: str
    name_column: str
    code_pattern: str          # a regex for the whole code, e.g. [EW]01\d{6}
    parents: tuple[str, ...]
    comparator: str | None

    def code_rule_sql(self, column: str, allow_blank: bool = False) -> str:
        """A SQL predicate true when `column` is a code of this level (or blank, if allowed)."""
        check = f"regexp_full_match(trim({column}), '{self.code_pattern}')"
        return f"(nullif(trim({column}), '') IS NULL OR {check})" if allow_blank else check


@dataclass(frozen=True)
class PeriodType:
    type: str
    name: str
    months: int
    first_month: int | None
    rolling: bool = False


AREA_LEVELS: dict[str, AreaLevel] = {
    a["type"]: AreaLevel(a["type"], a["name"], a["code_column"], a["name_column"], a["code_pattern"],
                         tuple(a["parents"]), a.get("comparator"))
    for a in dbt_vars()["area_levels"]
}
PERIOD_TYPES: dict[str, PeriodType] = {
    p["type"]: PeriodType(p["type"], p["name"], p["months"], p.get("first_month"), bool(p.get("rolling")))
    for p in dbt_vars()["period_types"]
}
CRIME_TYPES: tuple[str, ...] = tuple(r["crime_type"] for r in seed_rows("police_crime_type"))
COMPARISONS: tuple[str, ...] = tuple(dbt_vars()["comparisons"])


def sql_list(values) -> str:
    """SQL string literals, comma-separated: `'a', 'b'`."""
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
