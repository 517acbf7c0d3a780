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
import re
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import VruError
from ingestion.load import FileRejected, ResourceExhausted, SourceSpec, resource_fault, shown, validate_file
from ingestion.settings import PROJECT_ROOT


def _source(name: str) -> SourceSpec | None:
    """The registry's declaration of a downloadable dataset (its name is the source's name)."""
    from ingestion import sources

    return next((s for s in sources.all_sources() if s.name == name), None)
DEFAULT_CONFIG = PROJECT_ROOT / "ingestion" / "reference_downloads.toml"
# data.police.uk publishes every force's files for a month range as one archive; {month} is YYYY-MM
POLICE_ARCHIVE_URL = os.environ.get("VRU_POLICE_ARCHIVE_URL", "https://data.police.uk/data/archive/{month}.zip")
# the archive month names a folder under landing/police: nothing but YYYY-MM (ASCII digits, month 01–12)
MONTH_PATTERN = r"[0-9]{4}-(0[1-9]|1[0-2])"


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
    except ResourceExhausted as error:
        partial.unlink(missing_ok=True)
        raise DownloadFailed(f"{spec.name}: previous version kept — {error}", hint=error.hint) from None
    except OSError as error:
        partial.unlink(missing_ok=True)
        if resource_fault(error):
            raise DownloadFailed(f"{spec.name}: ran out of {resource_fault(error)} writing {partial} ({error}); "
                                 "previous version kept", hint=ResourceExhausted.hint) from None
        raise
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
    Returns the folder and the number of street files. A refused archive changes nothing.

    Nothing is read, written or deleted outside landing/police: the month must be YYYY-MM
    (checked before anything is touched), the target folder is resolved and must lie directly
    in landing/police, and the archive is checked from its central directory before anything is
    unpacked (police_uk.archive_members: limits on size, ratio and members; absolute paths, `..`
    and links refused), then unpacked with its bytes counted (police_uk.extract_members)."""
    import tempfile

    from ingestion.sources.police_uk import (
        ARCHIVE_MAX_TOTAL_BYTES,
        POLICE_STREET,
        archive_members,
        extract_members,
        open_archive,
    )

    if not isinstance(month, str) or not re.fullmatch(MONTH_PATTERN, month):
        raise DownloadFailed(f"police archive month {shown(repr(month), 60)} refused: rule 'month_format': "
                             "the month must be YYYY-MM with a month 01–12, e.g. 2025-01",
                             hint="give the month as YYYY-MM, e.g. `vru download-police 2025-01`; nothing was changed")
    police_dir = Path(landing_dir) / "police"
    root, target = police_dir.resolve(), (police_dir / month).resolve()
    if target.parent != root:
        raise DownloadFailed(f"police archive {month}: {police_dir / month} resolves to {target}, outside {root} "
                             "(a link?); nothing was changed",
                             hint="remove the link under the landing folder's police/ and try again")
    url = (url_template or POLICE_ARCHIVE_URL).format(month=month)
    police_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as scratch:
        archive = Path(scratch) / f"{month}.zip"
        try:
            received = 0
            with urllib.request.urlopen(url, timeout=timeout_s) as response, open(archive, "wb") as out:
                while block := response.read(1 << 20):
                    received += len(block)
                    if received > ARCHIVE_MAX_TOTAL_BYTES:
                        raise DownloadFailed(f"police archive {url}: more than {ARCHIVE_MAX_TOTAL_BYTES:,} bytes "
                                             "(ARCHIVE_MAX_TOTAL_BYTES); download stopped, nothing unpacked")
                    out.write(block)
            with open_archive(archive) as zipped:
                members = archive_members(archive, zipped, ("-street.csv",))
                if not members:
                    raise DownloadFailed(f"police archive {url}: no street files in it")
                unpacked = Path(scratch) / "unpacked"
                extract_members(archive, zipped, members, unpacked)
            for member in members:
                validate_file(POLICE_STREET, unpacked / member.filename)
        except urllib.error.URLError as error:
            raise DownloadFailed(f"police archive: could not download {url}: {error}") from None
        except FileRejected as rejection:
            raise DownloadFailed(f"police archive {url} refused, nothing unpacked — {rejection}") from None
        except ResourceExhausted as error:
            raise DownloadFailed(f"police archive {url}: nothing unpacked — {error}", hint=error.hint) from None
        except OSError as error:
            if resource_fault(error):
                raise DownloadFailed(f"police archive {url}: ran out of {resource_fault(error)} ({error}); "
                                     "nothing unpacked", hint=ResourceExhausted.hint) from None
            raise
        # archives hold YYYY-MM/ folders; keep them under the month of the download. The previous
        # copy goes into the scratch folder (deleted with it) only once the new one is complete
        if target.exists():
            os.replace(target, Path(scratch) / "previous")
        os.replace(unpacked, target)
    return target, len(members)
