"""Fetch published reference and source files from configurable URLs, safely.

A download goes to a temporary file beside its target, is checked against the source's own rules
(header by name, code patterns, uniqueness, a minimum row count) and only then renamed over the
previous version. A failed or refused download leaves the previous file exactly as it was.

URLs are configuration, not code: `reference_downloads.toml` (or a file named by
`VRU_DOWNLOADS_CONFIG`) lists each dataset; ONS moves files between releases, so each entry names
the dataset as the ONS Open Geography Portal titles it.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import VruError
from ingestion.load import FileRejected, SourceSpec, validate_file
from ingestion.settings import PROJECT_ROOT


def _source(name: str) -> SourceSpec | None:
    """The registry's declaration of a downloadable dataset (its name is the source's name)."""
    from ingestion import sources

    return next((s for s in sources.all_sources() if s.name == name), None)
DEFAULT_CONFIG = PROJECT_ROOT / "ingestion" / "reference_downloads.toml"
# data.police.uk publishes every force's files for a month range as one archive; {month} is YYYY-MM
POLICE_ARCHIVE_URL = os.environ.get("VRU_POLICE_ARCHIVE_URL", "https://data.police.uk/data/archive/{month}.zip")


class DownloadFailed(VruError):
    hint = "nothing was changed; check the URL or try again later"


@dataclass(frozen=True)
class DownloadSpec:
    name: str          # one of SPECS: which rules the file must pass
    url: str
    target: str        # path under the landing folder, e.g. ons/LSOA21_WD24_LAD24_EW_LU.csv
    min_rows: int = 1
    title: str = ""


@dataclass(frozen=True)
class DownloadResult:
    spec: DownloadSpec
    path: Path
    rows: int
    sha256: str
    replaced: bool     # False when the new file is identical to the one already there


def read_config(path: Path | None = None) -> list[DownloadSpec]:
    path = Path(path or os.environ.get("VRU_DOWNLOADS_CONFIG", DEFAULT_CONFIG))
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("download", [])
    specs = [DownloadSpec(**entry) for entry in entries]
    unknown = [s.name for s in specs if _source(s.name) is None or _source(s.name).refresh != "reference"]
    if unknown:
        raise DownloadFailed(f"{path}: unknown dataset name(s) {unknown}; each must be a reference source's name")
    return specs


def fetch(spec: DownloadSpec, landing_dir: Path, timeout_s: float = 120.0) -> DownloadResult:
    """Download one file, check it, and only then replace the previous version."""
    if not spec.url:
        raise DownloadFailed(f"{spec.name}: no URL configured (set it in {DEFAULT_CONFIG.name})")
    target = Path(landing_dir) / spec.target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(spec.url, timeout=timeout_s) as response, open(partial, "wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        rows = validate_file(_source(spec.name).layout_for(partial), partial, as_name=target.name,
                             min_rows=spec.min_rows)
    except urllib.error.URLError as error:
        partial.unlink(missing_ok=True)
        raise DownloadFailed(f"{spec.name}: could not download {spec.url}: {error}") from None
    except FileRejected as rejection:
        partial.unlink(missing_ok=True)
        raise DownloadFailed(f"{spec.name}: downloaded file refused, previous version kept — "
                             f"{rejection.rule}: {rejection.detail}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    sha = digest.hexdigest()
    unchanged = target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha
    if unchanged:
        partial.unlink()
    else:
        os.replace(partial, target)
    return DownloadResult(spec, target, rows, sha, replaced=not unchanged)


def fetch_police_archive(month: str, landing_dir: Path, url_template: str | None = None,
                         timeout_s: float = 600.0) -> tuple[Path, int]:
    """Download the police.uk archive for `month`, check every street file in it against the
    loader's rules, and only then unpack it to landing/police/<month>/ (replacing a previous copy).
    Returns the folder and the number of street files. A refused archive changes nothing."""
    import shutil
    import tempfile
    import zipfile

    from ingestion.sources.police_uk import POLICE_STREET

    url = (url_template or POLICE_ARCHIVE_URL).format(month=month)
    police_dir = Path(landing_dir) / "police"
    police_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=police_dir, prefix=".download-") as scratch:
        archive = Path(scratch) / f"{month}.zip"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response, open(archive, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            with zipfile.ZipFile(archive) as zipped:
                members = [m for m in zipped.namelist() if m.endswith("-street.csv") and ".." not in Path(m).parts]
                if not members:
                    raise DownloadFailed(f"police archive {url}: no street files in it")
                unpacked = Path(scratch) / "unpacked"
                for member in members:
                    zipped.extract(member, unpacked)
                    validate_file(POLICE_STREET, unpacked / member)
        except urllib.error.URLError as error:
            raise DownloadFailed(f"police archive: could not download {url}: {error}") from None
        except zipfile.BadZipFile:
            raise DownloadFailed(f"police archive {url}: not a zip file") from None
        except FileRejected as rejection:
            raise DownloadFailed(f"police archive {url} refused, nothing unpacked — {rejection}") from None
        target = police_dir / month
        if target.exists():
            shutil.rmtree(target)
        # archives hold YYYY-MM/ folders; keep them under the month of the download
        os.replace(unpacked, target)
    return target, len(members)
