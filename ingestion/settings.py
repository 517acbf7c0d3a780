"""Where things live. Every path comes from one place so Airflow tasks, dbt (through cosmos,
which runs dbt from a temporary copy of the project) and the CLI agree on absolute paths."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    warehouse_dir: Path
    # DuckDB's memory ceiling for the pipeline's writers and dbt; past it DuckDB spills to disk
    # instead of growing (its own default is 80% of the machine)
    duckdb_memory_limit: str = "3GB"

    @property
    def working_db(self) -> Path:
        """The pipeline's own read-write DuckDB file. Only pipeline writers open it."""
        return self.warehouse_dir / "vru.duckdb"

    @property
    def lock_file(self) -> Path:
        return self.warehouse_dir / "vru.duckdb.writer-lock"

    @property
    def published_db(self) -> Path:
        """The read-only copy analysts and BI tools open; replaced atomically on publish."""
        return self.warehouse_dir / "published" / "vru.duckdb"

    @property
    def gx_dir(self) -> Path:
        """Great Expectations file context: validation results and Data Docs."""
        return self.warehouse_dir / "gx"

    @property
    def data_docs_index(self) -> Path:
        return self.gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html"

    @property
    def landing_dir(self) -> Path:
        """Where real deliveries land (`vru download`, `vru download-police`): the default folder of
        the scheduled DAGs."""
        return self.warehouse_dir / "landing"

    @property
    def demo_landing_dir(self) -> Path:
        """Where `vru demo` writes its generated extracts (replaced on each demo), apart from real
        deliveries: the default folder of the demo's DAG, vru_pipeline."""
        return self.landing_dir / "demo"

    @property
    def logs_dir(self) -> Path:
        return self.warehouse_dir / "logs"


def get_settings() -> Settings:
    """Read settings from the environment; `VRU_WAREHOUSE_DIR` moves the whole warehouse."""
    warehouse = Path(os.environ.get("VRU_WAREHOUSE_DIR", PROJECT_ROOT / "warehouse")).resolve()
    return Settings(warehouse_dir=warehouse,
                    duckdb_memory_limit=os.environ.get("VRU_DUCKDB_MEMORY_LIMIT", Settings.duckdb_memory_limit))


DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def read_yaml(path: Path):
    """A YAML file of the project, through libyaml's parser when PyYAML has it (the dbt project's
    YAML parses ten times faster than with PyYAML's own Python parser; the same documents)."""
    import yaml

    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
DAGS_DIR = PROJECT_ROOT / "dags"
