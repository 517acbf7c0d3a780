"""A release from explore-education-statistics (EES), downloaded as its "Download all data" zip
and checked file by file before it replaces the previous version (docs/dfe_data.md).

EES serves every data file of a release as one zip (`…/api/releases/<release version id>/files`):
`data/*.csv`, each with its `*.meta.csv`, sometimes in nested folders, beside a data guidance
text and supporting files. File names change between releases, so each CSV data file is told
apart by its header (`ingestion.sources.dfe.kind_of`) and checked with its DfE source's own rules
(`validate_file`, at least one data row). The release must hold the file of the source the
download is named after (`dfe_exclusions`); the by-reason and schools register files are optional.
Other CSVs (by pupil characteristic, the national summary) are not loaded by any source and are
not landed; `.meta.csv` files and anything that is not a CSV are skipped.

Only when every routed file passes does the release folder (`<landing>/dfe/<folder>/`, holding the
routed files at their paths in the zip) replace the previous one: the new folder is built in a
scratch folder, the previous one renamed aside and the new one renamed in, then the previous one
deleted with the scratch folder. A failure at any point (HTTP error, timeout, a truncated or
corrupt zip, a member leaving the folder or too large, a file breaking a rule) leaves the previous
folder exactly as it was and nothing else behind. The scratch folder is `<landing>/.download-*`,
outside every source's landing folder, so the DfE DAG's sensor never sees an unchecked file (beside
the target instead when the source's folder is on another filesystem: a rename cannot cross one).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

import duckdb

from ingestion import progress
from ingestion.downloads import DownloadFailed, DownloadResult, DownloadSpec, resolved_url
from ingestion.load import FileRejected, ResourceExhausted, read_header, resource_fault, shown, validate_file

log = logging.getLogger(__name__)

RELEASE_KIND = "ees_release_zip"
# an environment variable naming a release's address overrides the configured one (used as it is,
# not through VRU_DOWNLOAD_BASE), e.g. for a release published after the config was last edited
URL_OVERRIDES = {"dfe_exclusions": "VRU_DFE_RELEASE_URL"}
_FOLDER_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]*"


def _dfe_sources() -> dict:
    from ingestion.sources.dfe import SOURCE_BY_NAME

    return SOURCE_BY_NAME


def spec_problem(spec: DownloadSpec) -> str | None:
    """Why a release entry of the downloads config cannot be used (None: it can): it is named
    after a DfE source, and its target is one folder directly below that source's landing folder
    (dfe/<folder>), where the DfE DAG finds it; never the landing folder itself, which may hold
    files delivered by hand."""
    source = _dfe_sources().get(spec.name)
    if source is None:
        return f"{spec.name!r} is not a DfE source ({', '.join(_dfe_sources())})"
    parts = PurePosixPath(spec.target.rstrip("/")).parts
    if len(parts) != 2 or parts[0] != source.landing or not re.fullmatch(_FOLDER_NAME, parts[1]):
        return (f"target {spec.target!r} must be one folder below {source.landing}/ "
                f"(e.g. {source.landing}/exclusions)")
    return None


def release_url(spec: DownloadSpec) -> str:
    """The address to fetch: the override's, when set, else the configured one (through the mirror)."""
    override = os.environ.get(URL_OVERRIDES.get(spec.name, ""), "")
    return override or resolved_url(spec.url)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _contents(folder: Path) -> dict[str, str]:
    """Every file below `folder` by its relative path, with its sha256."""
    return {p.relative_to(folder).as_posix(): _digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _download(url: str, to: Path, timeout_s: float, limit: int, step: progress.Step | None = None) -> int:
    """Stream the answer to `to` (never held in memory); a body longer than `limit` or shorter
    than its Content-Length is refused."""
    received = 0
    with urllib.request.urlopen(url, timeout=timeout_s) as response, open(to, "wb") as out:
        declared = response.headers.get("Content-Length")
        if step is not None and declared is not None and declared.isdigit():
            step.update(total=int(declared))
        while block := response.read(1 << 20):
            received += len(block)
            if received > limit:
                raise DownloadFailed(f"more than {limit:,} bytes (ARCHIVE_MAX_TOTAL_BYTES); download stopped")
            out.write(block)
            if step is not None:
                step.advance(len(block))
    if declared is not None and declared.isdigit() and received != int(declared):
        raise DownloadFailed(f"the connection closed after {received:,} of the {int(declared):,} bytes "
                             "announced (truncated download)")
    return received


def _unpack_and_check(archive: Path, scratch: Path, spec: DownloadSpec,
                      step: progress.Step | None = None) -> tuple[list[tuple[str, str, int]], list[str]]:
    """Unpack the zip's CSV data files under scratch/unpacked, route each by its header and check
    it against its source. Returns (path in the zip, source, rows) of every routed file and the
    paths of the CSVs no source reads. Raises FileRejected naming the file and rule."""
    from ingestion.sources import police_uk
    from ingestion.sources.dfe import kind_of

    sources = _dfe_sources()
    with police_uk.open_archive(archive) as zipped:
        # the whole central directory is checked first: paths leaving the folder, links, member
        # count, declared sizes and compression ratios; then the bytes are counted while unpacking
        members = police_uk.archive_members(archive, zipped, (".csv", ".CSV"))
        members = [m for m in members if not m.filename.lower().endswith(".meta.csv")]
        unpacked = scratch / "unpacked"
        police_uk.extract_members(archive, zipped, members, unpacked)
    routed, unused = [], []
    for n, member in enumerate(members, 1):
        if step is not None:
            step.set_phase(f"checking file {n}/{len(members)}")
        path = unpacked / member.filename
        kind = kind_of(read_header(path))
        if kind is None:
            unused.append(member.filename)
            continue
        try:
            rows = validate_file(sources[kind].layout_for(path), path, min_rows=1)
        except duckdb.Error as error:
            if resource_fault(error):
                raise ResourceExhausted(f"checking {shown(member.filename)}: ran out of {resource_fault(error)}") from error
            # a rule that cannot be evaluated on a file (a value not in the form it expects) is no pass
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise FileRejected(path, "rules_evaluable",
                               f"the {kind} rules could not be evaluated on it: a value is not in the form they expect "
                               f"(DuckDB: {first})") from None
        routed.append((member.filename, kind, rows))
    if not any(kind == spec.name for _, kind, _ in routed):
        found = ", ".join(shown(m.filename, 80) for m in members[:10]) or "none"
        raise FileRejected(archive, f"has_{spec.name}_file",
                           f"no {spec.name} file among its CSV data files ({found}); each file's source is told "
                           "by its header (ingestion.sources.dfe.kind_of)")
    return routed, unused


def fetch_release(spec: DownloadSpec, landing_dir: Path, timeout_s: float = 120.0,
                  reporter: progress.Reporter | None = None) -> DownloadResult:
    """Download an EES release zip, check every data file in it, and only then replace the
    previous version of the release folder (see the module's docstring). Raises DownloadFailed
    naming the address, the file and the rule; the previous folder is then unchanged.
    Progress (progress.py): a step "download <name>" counting the zip's bytes, then its checks."""
    with progress.current(reporter).step(f"download {spec.name}", unit="bytes") as step:
        return _fetch_release(spec, landing_dir, timeout_s, step)


def _fetch_release(spec: DownloadSpec, landing_dir: Path, timeout_s: float, step: progress.Step) -> DownloadResult:
    from ingestion.sources import police_uk

    problem = spec_problem(spec)
    if problem:
        raise DownloadFailed(f"{spec.name}: {problem}; nothing was changed")
    url = release_url(spec)
    if not url:
        raise DownloadFailed(f"{spec.name}: no URL configured (set it in the downloads config or "
                             f"{URL_OVERRIDES.get(spec.name, 'its override')})")
    landing = Path(landing_dir)
    target = landing / spec.target.rstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    root = target.parent.resolve()
    if target.is_symlink() or target.resolve().parent != root or (target.exists() and not target.is_dir()):
        raise DownloadFailed(f"{spec.name}: {target} is a link or not a folder; nothing was changed",
                             hint=f"remove {target} (the release folder is the download's own) and try again")
    scratch_parent = landing if os.stat(landing).st_dev == os.stat(root).st_dev else root
    refused = f"{spec.name}: {url} refused, previous version kept — "
    with tempfile.TemporaryDirectory(dir=scratch_parent, prefix=f".download-{spec.name}-") as scratch_name:
        scratch = Path(scratch_name)
        archive = scratch / f"{spec.name}.zip"
        try:
            size = _download(url, archive, timeout_s, police_uk.ARCHIVE_MAX_TOTAL_BYTES, step)
            step.set_phase("unpacking")
            routed, unused = _unpack_and_check(archive, scratch, spec, step)
        except DownloadFailed as error:
            raise DownloadFailed(f"{spec.name}: could not download {url}: {error}; previous version kept") from None
        except urllib.error.HTTPError as error:
            raise DownloadFailed(f"{spec.name}: could not download {url}: HTTP {error.code} {error.reason}; "
                                 "previous version kept") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", None) or error
            if isinstance(reason, TimeoutError):
                reason = f"no answer within {timeout_s:g} s (timed out)"
            raise DownloadFailed(f"{spec.name}: could not download {url}: {shown(reason)}; "
                                 "previous version kept") from None
        except FileRejected as rejection:
            raise DownloadFailed(refused + str(rejection)) from None
        except ResourceExhausted as error:
            raise DownloadFailed(refused + str(error), hint=error.hint) from None
        except OSError as error:
            if resource_fault(error):
                raise DownloadFailed(f"{refused}ran out of {resource_fault(error)} ({error})",
                                     hint=ResourceExhausted.hint) from None
            raise
        release = scratch / "release"
        for name, _, _ in routed:
            (release / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch / "unpacked" / name, release / name)
        if unused:
            log.info("%s: not landed (no DfE source reads them): %s", spec.name, ", ".join(unused))
        contents = _contents(release)
        sha = hashlib.sha256("".join(f"{p} {d}\n" for p, d in contents.items()).encode()).hexdigest()
        unchanged = target.is_dir() and _contents(target) == contents
        if not unchanged:
            previous = scratch / "previous"
            if target.exists():
                os.replace(target, previous)
            try:
                os.replace(release, target)
            except BaseException:
                if previous.exists():
                    os.replace(previous, target)
                raise
            # the previous version is deleted with the scratch folder
    log.info("%s: %s (%s bytes): %s", spec.name, url, f"{size:,}", "unchanged" if unchanged else "replaced")
    return DownloadResult(spec, target, sum(rows for _, _, rows in routed), sha, replaced=not unchanged,
                          files=tuple(target / name for name, _, _ in routed))


def fetch_configured_release(landing_dir: Path, name: str = "dfe_exclusions", config: Path | None = None,
                             timeout_s: float = 120.0, reporter: progress.Reporter | None = None) -> DownloadResult:
    """The release the downloads config declares under `name`, fetched and checked into the
    landing area (what the yearly DAG runs when asked to download)."""
    from ingestion.downloads import read_config

    spec = next((s for s in read_config(config, releases=True) if s.name == name), None)
    if spec is None:
        raise DownloadFailed(f"no release {name!r} in the downloads config; nothing was changed")
    return fetch_release(spec, landing_dir, timeout_s, reporter)
