"""Whether anything is new since the last build and the last publish, so a run with nothing new
does no dbt work and rewrites no published file.

A build is needed when the deliveries accepted now differ from those the last complete build was
made from (dbt's `int_refresh__changed_load`, a view over the pipeline's tables, says which), or
the dbt project's files differ from those it was built with (its fingerprint, recorded by the
build's on-run-end hook from VRU_BUILD_FINGERPRINT), or no complete build is recorded. The plan
(`plan_build`) rebuilds from scratch when the project changed, and otherwise builds only the
nodes the changed deliveries reach when none of them is reference data.

A publish is needed when the pipeline's state — the last build, the checks and the load manifest,
all of which the published file carries — differs from the state recorded at the last publish, or
the published file is missing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ingestion.settings import DBT_PROJECT_DIR

FINGERPRINT_ENV = "VRU_BUILD_FINGERPRINT"
# what dbt builds from: every file of these, by path and content (target/, logs/ and packages are not)
_PROJECT_PARTS = ("models", "macros", "seeds", "tests", "snapshots", "analyses", "dbt_project.yml", "profiles.yml",
                  "packages.yml")

PUBLISH_STATE_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.publish_state (published_at TIMESTAMP NOT NULL, pipeline_state VARCHAR NOT NULL);
"""


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """sha256 over the dbt project's files (relative path and bytes), in path order."""
    digest = hashlib.sha256()
    for part in _PROJECT_PARTS:
        root = Path(project_dir) / part
        for path in sorted([root] if root.is_file() else root.rglob("*") if root.is_dir() else []):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _exists(con, schema: str, name: str) -> bool:
    """A table or view (information_schema.tables lists both)."""
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [schema, name]).fetchone()[0] > 0


PROJECT_CHANGED = "the dbt project changed since the last build"


def build_needed(con, project_dir: Path = DBT_PROJECT_DIR) -> str | None:
    """Why a dbt build is needed now, or None when nothing is new since the last complete build."""
    if not _exists(con, "raw", "dbt_build_state") or not _exists(con, "intermediate", "int_refresh__changed_load"):
        return "no complete build is recorded yet"
    built = con.execute("SELECT fingerprint FROM raw.dbt_build_state ORDER BY recorded_at DESC LIMIT 1").fetchone()
    if built is None:
        return "no complete build is recorded yet"
    if built[0] != project_fingerprint(project_dir):
        return PROJECT_CHANGED
    changed = con.execute("SELECT change, count(*) FROM intermediate.int_refresh__changed_load "
                          "GROUP BY ALL ORDER BY ALL").fetchall()
    if changed:
        return "deliveries changed since the last build: " + ", ".join(f"{n} {change}" for change, n in changed)
    return None


def build_selection(con) -> list[str] | None:
    """The dbt nodes a build needs when only deliveries of `by_period` or `revises_history`
    sources changed since the last complete build: what is built from those sources' raw tables
    (`source:*.<table>+`), the refresh models that scope it (tag refresh_scope, by themselves:
    their descendants are the whole incremental graph), and what is built from the pipeline's
    record of every delivery (tag delivery_state: coverage). None — every node — when reference
    data changed, since every area and denominator hangs on it."""
    # a source the registry does not know is `reference` there (int_refresh__changed_load)
    changed = con.execute("SELECT DISTINCT refresh, raw_table FROM intermediate.int_refresh__changed_load").fetchall()
    if any(refresh == "reference" for refresh, _ in changed):
        return None
    tables = sorted({raw_table.rsplit(".", 1)[-1] for _, raw_table in changed})
    return ["tag:refresh_scope", "tag:delivery_state+", *(f"source:*.{table}+" for table in tables)]


@dataclass(frozen=True)
class BuildPlan:
    """The dbt build to run now, and why."""

    reason: str
    # the project changed: incremental models hold rows its old SQL wrote, so all are rebuilt
    full_refresh: bool = False
    select: tuple[str, ...] = ()        # only these nodes (build_selection); empty: every node

    def dbt_args(self) -> list[str]:
        return ["build", *(["--full-refresh"] if self.full_refresh else []),
                *(["--select", *self.select] if self.select else [])]


def plan_build(con, project_dir: Path = DBT_PROJECT_DIR) -> BuildPlan | None:
    """The build needed now (`build_needed` says why), or None when nothing is new."""
    reason = build_needed(con, project_dir)
    if reason is None:
        return None
    if reason == PROJECT_CHANGED:
        return BuildPlan(reason, full_refresh=True)
    if reason.startswith("deliveries changed"):
        return BuildPlan(reason, select=tuple(build_selection(con) or ()))
    return BuildPlan(reason)


def pipeline_state(con) -> str:
    """What the published file is made from, as one string: the last build's start, the checks
    recorded and the load manifest (every delivery with its outcome and check status)."""
    manifest = "count(*), md5(string_agg(concat_ws('/', load_id, outcome, check_status), ',' ORDER BY load_id))"
    parts = []
    for table, columns in [("dbt_build_started", "max(started_at)"),
                           ("check_result", "count(*), max(checked_at)"),
                           ("load_manifest", manifest)]:
        parts.append(str(con.execute(f"SELECT {columns} FROM raw.{table}").fetchone())
                     if _exists(con, "raw", table) else "-")
    return " | ".join(parts)


def publish_needed(con, published: Path) -> str | None:
    """Why publishing is needed now, or None when the published file is as the pipeline is."""
    if not Path(published).exists():
        return "nothing is published yet"
    con.execute(PUBLISH_STATE_DDL)
    last = con.execute("SELECT pipeline_state FROM raw.publish_state ORDER BY published_at DESC LIMIT 1").fetchone()
    if last is None or last[0] != pipeline_state(con):
        return "the warehouse changed since the last publish"
    return None


def record_publish(con, state: str) -> None:
    """After the published file was replaced: the pipeline state (`pipeline_state`, read when the
    copy began) it was made from."""
    con.execute(PUBLISH_STATE_DDL)
    con.execute("DELETE FROM raw.publish_state")
    con.execute("INSERT INTO raw.publish_state VALUES ((now() AT TIME ZONE 'UTC')::TIMESTAMP, ?)", [state])
