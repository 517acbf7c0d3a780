"""Code lists, each declared once in the dbt project and read here by the loaders and Great
Expectations, so Python never restates one.

- area levels and period types: dbt vars in `dbt_project/dbt_project.yml` (dbt's Jinja loops
  over them when it writes SQL, so they cannot be seeds);
- police.uk crime types, outcome groups and forces: dbt seeds (`dbt_project/seeds/*.csv`, joined in SQL).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass

from ingestion.settings import DBT_PROJECT_DIR, read_yaml


@functools.cache
def dbt_vars() -> dict:
    return read_yaml(DBT_PROJECT_DIR / "dbt_project.yml")["vars"]


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


@dataclass(frozen=True)
class PoliceForce:
    force_id: str              # police.uk's id, the force part of its file names
    name: str
    pfa_code: str | None       # the police force area it reports for (none for BTP)
    jurisdiction: str

    @property
    def in_england_wales(self) -> bool:
        return self.jurisdiction.startswith(("England", "Wales"))


POLICE_FORCES: dict[str, PoliceForce] = {
    r["force_id"]: PoliceForce(r["force_id"], r["force_name"], r["pfa_code"] or None, r["jurisdiction"])
    for r in seed_rows("police_force")
}
# the forces whose files the platform loads: every mart is of England and Wales
ENGLAND_WALES_FORCES: tuple[str, ...] = tuple(f for f, force in POLICE_FORCES.items() if force.in_england_wales)
COMPARISONS: tuple[str, ...] = tuple(dbt_vars()["comparisons"])
VALUE_NOTES: tuple[str, ...] = tuple(dbt_vars()["value_notes"])


def sql_list(values) -> str:
    """SQL string literals, comma-separated: `'a', 'b'`."""
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
