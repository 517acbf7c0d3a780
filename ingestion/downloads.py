"""Fetch published reference and source files from configurable URLs, safely.

A download goes to a temporary file beside its target, is checked against the source's own rules
(header by name, code patterns, uniqueness, a minimum row count) and only then renamed over the
previous version. A failed or refused download leaves the previous file exactly as it was.

URLs are configuration, not code: `reference_downloads.toml` (or a file named by
`VRU_DOWNLOADS_CONFIG`) lists each dataset once: its kind (a plain `file`, an ArcGIS
FeatureServer layer paged as an `arcgis_table` CSV or an `arcgis_geojson` FeatureCollection, see
arcgis.py, or a Nomis API query paged into a declared population layout, `nomis_csv`, see
nomis.py), its address, the fields it needs and the target file the loaders read. A release zip
from explore-education-statistics (`ees_release_zip`, see ees.py) lands as a folder of files, each
checked against the DfE source its header names; `read_config(releases=True)` lists those too.
`VRU_DOWNLOAD_BASE` sends every request to a mirror instead (`https://host/path` is fetched as
`<base>/host/path`): for networks that reach the internet only through one, and for tests.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingestion import progress
from ingestion.errors import VruError
from ingestion.load import FileRejected, ResourceExhausted, SourceSpec, resource_fault, shown, validate_file
from ingestion.settings import PROJECT_ROOT


def _source(name: str) -> SourceSpec | None:
    """The registry's declaration of a downloadable dataset (its name is the source's name)."""
    from ingestion import sources

    return next((s for s in sources.all_sources() if s.name == name), None)


DEFAULT_CONFIG = PROJECT_ROOT / "ingestion" / "reference_downloads.toml"
KINDS = ("file", "arcgis_table", "arcgis_geojson", "nomis_csv", "ees_release_zip")
# kinds that land a release (a folder of a statistics release's files), not a reference file
RELEASE_KINDS = ("ees_release_zip",)


def _config_path(path: Path | None = None) -> Path:
    return Path(path or os.environ.get("VRU_DOWNLOADS_CONFIG", DEFAULT_CONFIG))


def resolved_url(url: str) -> str:
    """The address to fetch: `url`, or its copy under the mirror VRU_DOWNLOAD_BASE names."""
    base = os.environ.get("VRU_DOWNLOAD_BASE", "").rstrip("/")
    if not base or not url:
        return url
    return f"{base}/{re.sub(r'^[a-z]+://', '', url)}"


def _police_archive_template() -> str:
    """data.police.uk publishes every force's files for a month range as one archive; the address
    (with {month} as YYYY-MM) is declared in the downloads config, VRU_POLICE_ARCHIVE_URL overrides it."""
    if os.environ.get("VRU_POLICE_ARCHIVE_URL"):
        return os.environ["VRU_POLICE_ARCHIVE_URL"]
    with open(_config_path(), "rb") as handle:
        return resolved_url(tomllib.load(handle)["police"]["archive_url"])

# the archive month names a folder under landing/police: nothing but YYYY-MM (ASCII digits, month 01–12)
MONTH_PATTERN = r"[0-9]{4}-(0[1-9]|1[0-2])"


class DownloadFailed(VruError):
    hint = "nothing was changed; check the URL or try again later"


@dataclass(frozen=True)
class DownloadSpec:
    name: str          # a reference source's name: which rules the file must pass
    url: str           # kind file: the file; arcgis_*: the layer's …/FeatureServer/<n>/query
    target: str        # path under the landing folder, e.g. ons/LSOA21_WD24_LAD24_EW_LU.csv
    min_rows: int = 1  # for the whole of England and Wales (an area's download needs one row)
    title: str = ""
    kind: str = "file"
    source: str = ""   # where the address was found (documentation only)
    fields: tuple[str, ...] = ()                 # arcgis_*: outFields, required in every answer
    rename: tuple[tuple[str, str], ...] = ()     # arcgis_table: (field, CSV column the loader reads)
    order_by: str = ""                           # arcgis_*: a unique field, for stable paging
    where: str = "1=1"                           # arcgis_*: rows wanted for England and Wales
    # how an area narrows the rows: "pfa:<field>" or "lad:<field>" (a where clause on the
    # service), "lsoa:<field>" (fetched whole, kept where the LSOA is the area's)
    area: str = ""
    page_size: int = 1000
    code_column: str = ""                        # arcgis_geojson: the property holding LSOA 2021 codes
    query: tuple[tuple[str, str], ...] = ()      # nomis_csv: the API's parameters (geography, date, …)
    layout: tuple[tuple[str, object], ...] = ()  # nomis_csv: how the long answer becomes the loader's layout


@dataclass
class AreaScope:
    """Which rows a download keeps: everything (England and Wales), or a police force area's,
    learned as the downloads run: its districts from the LAD→CSP→PFA lookup, then their LSOAs
    from the LSOA→LAD lookup."""
    name: str
    pfa_code: str | None = None
    lads: set[str] | None = None
    lsoas: set[str] | None = None

    @property
    def national(self) -> bool:
        return self.pfa_code is None


def area_scope(area: str) -> AreaScope:
    """`england-wales`, or a police.uk force id (e.g. thames-valley) from the police_force seed."""
    from ingestion.codes import POLICE_FORCES

    if area == "england-wales":
        return AreaScope(area)
    force = POLICE_FORCES.get(area)
    if force is None or not force.pfa_code or not force.in_england_wales:
        known = sorted(f for f, v in POLICE_FORCES.items() if v.pfa_code and v.in_england_wales)
        raise DownloadFailed(f"unknown area {shown(repr(area), 60)}: give england-wales or a police force id "
                             f"({', '.join(known[:6])}, …)", hint="e.g. `vru bootstrap thames-valley`")
    return AreaScope(area, force.pfa_code)


@dataclass(frozen=True)
class DownloadResult:
    spec: DownloadSpec
    path: Path
    rows: int
    sha256: str
    replaced: bool     # False when the new file is identical to the one already there
    files: tuple[Path, ...] = ()   # a release: the files landed in its folder (`path`)


def read_config(path: Path | None = None, releases: bool = False) -> list[DownloadSpec]:
    """The reference downloads the config declares (what `vru bootstrap` fetches for an area);
    with `releases`, the statistics releases too (what `vru download` fetches)."""
    path = _config_path(path)
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("download", [])
    specs = [DownloadSpec(**entry | {"fields": tuple(entry.get("fields", ())),
                                     "rename": tuple(entry.get("rename", {}).items()),
                                     "query": tuple((k, str(v)) for k, v in entry.get("query", {}).items()),
                                     "layout": tuple((k, tuple(v.items()) if isinstance(v, dict) else v)
                                                     for k, v in entry.get("layout", {}).items())})
             for entry in entries]
    # boundaries are checked and loaded by their own reader (sources/boundaries.py), not a SourceSpec
    unknown = [s.name for s in specs if s.kind != "arcgis_geojson" and s.kind not in RELEASE_KINDS
               and (_source(s.name) is None or _source(s.name).refresh != "reference")]
    if unknown:
        raise DownloadFailed(f"{path}: unknown dataset name(s) {unknown}; each must be a reference source's name")
    bad = [s.name for s in specs if s.kind not in KINDS
           or (s.kind.startswith("arcgis") and not (s.fields and s.order_by))
           or (s.kind == "nomis_csv" and not (s.fields and s.layout))
           or (s.area and not re.fullmatch(r"(pfa|lad|lsoa):\w+", s.area))]
    if bad:
        raise DownloadFailed(f"{path}: entries {bad} need a kind in {KINDS}; arcgis kinds need fields and "
                             "order_by, nomis_csv fields and layout; area is pfa:FIELD, lad:FIELD or lsoa:FIELD")
    if any(s.kind in RELEASE_KINDS for s in specs):
        from ingestion import ees

        problems = [f"{s.name}: {ees.spec_problem(s)}" for s in specs if s.kind in RELEASE_KINDS and ees.spec_problem(s)]
        if problems:
            raise DownloadFailed(f"{path}: release entries refused: {'; '.join(problems)}")
    return specs if releases else [s for s in specs if s.kind not in RELEASE_KINDS]


def _codes_where(field_name: str, codes: set[str]) -> str:
    """`FIELD IN ('E06000038', …)`; codes are checked first, so nothing else reaches the query."""
    if not all(re.fullmatch(r"[EW]\d{8}", c) for c in codes):
        raise DownloadFailed(f"area codes {sorted(codes)[:5]} are not ONS codes; nothing was changed")
    return f"{field_name} IN ({', '.join(repr(c) for c in sorted(codes))})"


def _narrowed(spec: DownloadSpec, scope: AreaScope | None) -> tuple[str, Callable[[dict], bool] | None]:
    """The where clause and the row filter that narrow a download to the area."""
    if scope is None or scope.national or not spec.area:
        return spec.where, None
    level, field_name = spec.area.split(":")
    if level == "pfa":
        clause = _codes_where(field_name, {scope.pfa_code})
    elif level == "lad":
        if not scope.lads:
            raise DownloadFailed(f"{spec.name}: the area's districts are not known yet (download the "
                                 "LAD→CSP→PFA lookup, area = pfa:…, first)")
        clause = _codes_where(field_name, scope.lads)
    else:
        if not scope.lsoas:
            raise DownloadFailed(f"{spec.name}: the area's LSOAs are not known yet (download the "
                                 "LSOA→LAD lookup, area = lad:…, first)")
        lsoas = scope.lsoas
        return spec.where, lambda row: row.get(field_name) in lsoas
    return clause if spec.where in ("", "1=1") else f"({spec.where}) AND ({clause})", None


def _download_arcgis(spec: DownloadSpec, partial: Path, timeout_s: float, scope: AreaScope | None,
                     on_progress: Callable[[int, int], None] | None) -> None:
    import httpx

    from ingestion import arcgis

    where, keep = _narrowed(spec, scope)
    query = arcgis.Query(resolved_url(spec.url), spec.fields, spec.order_by, where, spec.page_size,
                         geojson=spec.kind == "arcgis_geojson",
                         geometry=any(f.startswith("geometry.") for f, _ in spec.rename))
    retry = arcgis.Retry(timeout_s=timeout_s, backoff_s=float(os.environ.get("VRU_DOWNLOAD_BACKOFF_S", 1.0)))
    with httpx.Client(follow_redirects=True) as client, open(partial, "w", encoding="utf-8", newline="") as out:
        if spec.kind == "arcgis_geojson":
            arcgis.write_geojson(client, query, out, keep, retry, on_progress)
        else:
            arcgis.write_csv(client, query, out, dict(spec.rename), keep, retry, on_progress)


def _download_nomis(spec: DownloadSpec, partial: Path, timeout_s: float, scope: AreaScope | None,
                    on_progress: Callable[[int, int], None] | None) -> None:
    import httpx

    from ingestion import arcgis, nomis

    if spec.area and not spec.area.startswith("lsoa:"):
        raise DownloadFailed(f"{spec.name}: a Nomis download is narrowed after it is read: area must be lsoa:FIELD")
    _, keep = _narrowed(spec, scope)
    query = nomis.Query(resolved_url(spec.url), spec.query, spec.fields, spec.page_size)
    retry = arcgis.Retry(timeout_s=timeout_s, backoff_s=float(os.environ.get("VRU_DOWNLOAD_BACKOFF_S", 1.0)))
    with httpx.Client(follow_redirects=True) as client, open(partial, "w", encoding="utf-8", newline="") as out:
        nomis.write_wide_csv(client, query, nomis.WideLayout.from_pairs(spec.layout), out, keep, retry, on_progress)


def _check_geojson(spec: DownloadSpec, path: Path, min_rows: int) -> int:
    """Before a boundary file replaces the previous one: a FeatureCollection of features with a
    geometry and an LSOA 2021 code each, as many as expected (sources/boundaries.py checks the
    polygons themselves when `vru ingest reference` / bootstrap loads it)."""
    from ingestion.codes import AREA_LEVELS

    with open(path, encoding="utf-8") as handle:
        features = json.load(handle).get("features", [])
    pattern = re.compile(AREA_LEVELS["lsoa"].code_pattern)
    for n, feature in enumerate(features, 1):
        code = str((feature.get("properties") or {}).get(spec.code_column, ""))
        if not pattern.fullmatch(code) or not feature.get("geometry"):
            raise FileRejected(path, "boundary_feature",
                               f"feature {n}: needs a geometry and an LSOA 2021 code in {spec.code_column!r} "
                               f"(got {shown(code, 40)!r})")
    if len(features) < min_rows:
        raise FileRejected(path, "min_rows", f"{len(features)} features, fewer than the {min_rows} expected")
    return len(features)


def fetch(spec: DownloadSpec, landing_dir: Path, timeout_s: float = 120.0, scope: AreaScope | None = None,
          on_progress: Callable[[int, int], None] | None = None,
          reporter: progress.Reporter | None = None) -> DownloadResult:
    """Download one dataset (for `scope`'s area, when given), check it, and only then replace the
    previous version. `on_progress(rows, total)` after each page of a paged download.

    Progress (progress.py): a step "download <name>" counting bytes (a file) or rows (a paged
    service) received of those announced, then its checks."""
    if spec.kind in RELEASE_KINDS:          # a folder of files, each checked by its own source
        from ingestion import ees

        return ees.fetch_release(spec, landing_dir, timeout_s, reporter=reporter)
    unit = "bytes" if spec.kind == "file" else "rows"
    with progress.current(reporter).step(f"download {spec.name}", unit=unit) as step:
        def pages(done: int, total: int) -> None:
            step.update(done=done, total=total or None)
            if on_progress:
                on_progress(done, total)

        return _fetch(spec, landing_dir, timeout_s, scope, pages, step)


def _fetch(spec: DownloadSpec, landing_dir: Path, timeout_s: float, scope: AreaScope | None,
           on_progress: Callable[[int, int], None], step: progress.Step) -> DownloadResult:
    from ingestion.arcgis import ArcGISFailed

    if not spec.url:
        raise DownloadFailed(f"{spec.name}: no URL configured (set it in {DEFAULT_CONFIG.name})")
    min_rows = spec.min_rows if scope is None or scope.national or not spec.area else 1
    target = Path(landing_dir) / spec.target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    url = resolved_url(spec.url)
    try:
        if spec.kind == "file":
            with urllib.request.urlopen(url, timeout=timeout_s) as response, open(partial, "wb") as out:
                length = response.headers.get("Content-Length") or ""
                step.update(total=int(length) if length.isdigit() else None)
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    step.advance(len(block))
        elif spec.kind == "nomis_csv":
            _download_nomis(spec, partial, timeout_s, scope, on_progress)
        else:
            _download_arcgis(spec, partial, timeout_s, scope, on_progress)
        step.set_phase("checking")
        if spec.kind == "arcgis_geojson":
            rows = _check_geojson(spec, partial, min_rows)
        else:
            rows = validate_file(_source(spec.name).layout_for(partial), partial, as_name=target.name,
                                 min_rows=min_rows)
    except urllib.error.URLError as error:
        partial.unlink(missing_ok=True)
        raise DownloadFailed(f"{spec.name}: could not download {url}: {error}") from None
    except ArcGISFailed as error:
        partial.unlink(missing_ok=True)
        raise DownloadFailed(f"{spec.name}: {error}; previous version kept", hint=error.hint) from None
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
    sha = _sha256(partial)
    unchanged = target.exists() and _sha256(target) == sha
    if unchanged:
        partial.unlink()
    else:
        os.replace(partial, target)
    if scope is not None and spec.kind == "arcgis_table":
        _learn_area(scope, spec, target)
    return DownloadResult(spec, target, rows, sha, replaced=not unchanged)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _learn_area(scope: AreaScope, spec: DownloadSpec, path: Path) -> None:
    """After the area's own lookup rows: its districts (from a pfa-narrowed table), then its
    LSOAs (from a lad-narrowed table with LSOA 2021 codes)."""
    if scope.national or not spec.area:
        return
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0]) if rows else []
    lad = next((h for h in header if re.fullmatch(r"LAD\d{2}CD", h)), None)
    if spec.area.startswith("pfa:") and lad:
        scope.lads = {r[lad] for r in rows if r[lad]}
    elif spec.area.startswith("lad:") and "LSOA21CD" in header:
        scope.lsoas = {r["LSOA21CD"] for r in rows if r["LSOA21CD"]}


def fetch_area(specs: list[DownloadSpec], landing_dir: Path, scope: AreaScope,
               on_start: Callable[[DownloadSpec], None] | None = None,
               on_progress: Callable[[DownloadSpec, int, int], None] | None = None,
               on_done: Callable[[DownloadResult | DownloadFailed], None] | None = None) -> list[DownloadResult]:
    """Every dataset for an area, in the order the area is learned (the force's districts, then
    their LSOAs, then the rest); each is checked and placed on its own, as `fetch` does. Raises
    DownloadFailed naming every failure after trying them all."""
    order = {"pfa": 0, "lad": 1}
    failures, results = [], []
    for spec in sorted(specs, key=lambda s: order.get(s.area.split(":")[0], 2)):
        if on_start:
            on_start(spec)
        try:
            result = fetch(spec, landing_dir, scope=scope,
                           on_progress=(lambda n, total, s=spec: on_progress(s, n, total)) if on_progress else None)
        except DownloadFailed as error:
            failures.append(error)
            if on_done:
                on_done(error)
            continue
        results.append(result)
        if on_done:
            on_done(result)
    if failures:
        raise DownloadFailed(f"{len(failures)} of {len(specs)} download(s) failed; their previous files are "
                             "unchanged:\n  " + "\n  ".join(str(f) for f in failures))
    return results


def fetch_police_archive(month: str, landing_dir: Path, url_template: str | None = None,
                         timeout_s: float = 600.0, force: str | None = None,
                         reporter: progress.Reporter | None = None) -> tuple[Path, int]:
    """Download the police.uk archive for `month`, check every street file in it against the
    loader's rules, and only then unpack it to landing/police/<month>/ (replacing a previous copy).
    Returns the folder and the number of street files. A refused archive changes nothing.
    With `force` (a police.uk force id, e.g. thames-valley) only that force's files are unpacked.

    Nothing is read, written or deleted outside landing/police: the month must be YYYY-MM
    (checked before anything is touched), the target folder is resolved and must lie directly
    in landing/police, and the archive is checked from its central directory before anything is
    unpacked (police_uk.archive_members: limits on size, ratio and members; absolute paths, `..`
    and links refused), then unpacked with its bytes counted (police_uk.extract_members).

    Progress (progress.py): a step "download police.uk <month>" counting the archive's bytes
    received, then the street files checked."""
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
    if force is not None and not re.fullmatch(r"[a-z]+(-[a-z]+)*", force):
        raise DownloadFailed(f"police force id {shown(repr(force), 60)} refused: lower-case words joined by '-'")
    police_dir = Path(landing_dir) / "police"
    root, target = police_dir.resolve(), (police_dir / month).resolve()
    if target.parent != root:
        raise DownloadFailed(f"police archive {month}: {police_dir / month} resolves to {target}, outside {root} "
                             "(a link?); nothing was changed",
                             hint="remove the link under the landing folder's police/ and try again")
    url = (url_template or _police_archive_template()).format(month=month)
    police_dir.mkdir(parents=True, exist_ok=True)
    with progress.current(reporter).step(f"download police.uk {month}", unit="bytes") as step, \
            tempfile.TemporaryDirectory(dir=root, prefix=".download-") as scratch:
        archive = Path(scratch) / f"{month}.zip"
        try:
            received = 0
            with urllib.request.urlopen(url, timeout=timeout_s) as response, open(archive, "wb") as out:
                length = response.headers.get("Content-Length") or ""
                step.update(total=int(length) if length.isdigit() else None)
                while block := response.read(1 << 20):
                    received += len(block)
                    if received > ARCHIVE_MAX_TOTAL_BYTES:
                        raise DownloadFailed(f"police archive {url}: more than {ARCHIVE_MAX_TOTAL_BYTES:,} bytes "
                                             "(ARCHIVE_MAX_TOTAL_BYTES); download stopped, nothing unpacked")
                    out.write(block)
                    step.advance(len(block))
            step.set_phase("unpacking")
            with open_archive(archive) as zipped:
                members = archive_members(archive, zipped, (f"-{force}-street.csv" if force else "-street.csv",))
                if not members:
                    raise DownloadFailed(f"police archive {url}: no {force + ' ' if force else ''}street files in it")
                unpacked = Path(scratch) / "unpacked"
                extract_members(archive, zipped, members, unpacked)
            for n, member in enumerate(members, 1):
                step.set_phase(f"checking street file {n}/{len(members)}")
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
