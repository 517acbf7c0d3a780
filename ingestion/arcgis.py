"""A small client for the ArcGIS REST FeatureServer `query` operation, as ONS Open Geography
serves its lookups and boundaries.

A layer answers at most its maxRecordCount rows per request, so a whole table is read a page at
a time (resultOffset / resultRecordCount, in a stable orderByFields order). The client first asks
how many rows the query matches (returnCountOnly) and pages until it has them all: a short page
before that, or a different total, is an incomplete download, never a smaller file. Transient
faults (HTTP 5xx or 429, timeouts, an `error` body, an empty page where rows were due) are
retried a bounded number of times with backoff; a response without a declared field (ONS renames
fields each vintage) is refused at once, naming the service and the field.

Nothing here writes the target: callers write to a temporary file and rename it when complete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from ingestion.errors import VruError

T = TypeVar("T")


class ArcGISFailed(VruError):
    hint = "nothing was changed; check the service address in the downloads config or try again later"


class FieldMissing(ArcGISFailed):
    hint = ("the service no longer has a field the download needs (ONS renames fields between vintages): "
            "update `fields` (and `rename`) for it in the downloads config; nothing was changed")


@dataclass(frozen=True)
class Query:
    url: str                       # …/FeatureServer/<layer>/query
    fields: tuple[str, ...]        # outFields, each required in every response
    order_by: str                  # a unique field (or fields) so pages never overlap or skip
    where: str = "1=1"
    page_size: int = 1000
    geojson: bool = False          # f=geojson (features with geometry) instead of f=json attributes
    geometry: bool = False         # f=json: return point geometry too (x, y in out_sr)
    out_sr: int = 4326             # WGS84 longitude/latitude

    @property
    def service(self) -> str:
        """The service name, for messages: …/services/<name>/FeatureServer/0/query."""
        parts = self.url.split("/")
        return parts[parts.index("FeatureServer") - 1] if "FeatureServer" in parts else self.url


@dataclass
class Retry:
    attempts: int = 5              # tries per request, the first included
    backoff_s: float = 1.0         # waits backoff, 2×backoff, 4×backoff… between tries
    timeout_s: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


class Transient(Exception):
    """A fault worth another try."""


def with_retries(attempt_once: Callable[[], T], retry: Retry, failed: Callable[[str], Exception]) -> T:
    """`attempt_once()` until it returns, at most retry.attempts times, waiting backoff, 2×backoff…
    between tries; transport faults and Transient are retried, anything else is raised at once.
    When every try failed, raises failed(<the last fault>). Shared by the ArcGIS and Nomis clients."""
    last = ""
    for attempt in range(retry.attempts):
        if attempt:
            retry.sleep(retry.backoff_s * 2 ** (attempt - 1))
        try:
            return attempt_once()
        except (httpx.TransportError, Transient) as fault:
            last = str(fault) or type(fault).__name__
    raise failed(last)


def _error_text(error: dict) -> str:
    details = "; ".join(str(d) for d in error.get("details") or [] if d)
    return f"{error.get('code', '?')} {error.get('message', '')}" + (f" ({details})" if details else "")


def _request(client: httpx.Client, query: Query, params: dict, retry: Retry, what: str) -> dict:
    """One GET of the query endpoint, retried on transient faults; returns the JSON body."""
    def once() -> dict:
        response = client.get(query.url, params=params, timeout=retry.timeout_s)
        if response.status_code >= 500 or response.status_code == 429:
            raise Transient(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ArcGISFailed(f"{query.service}: {what} refused: HTTP {response.status_code} "
                               f"{response.text[:200]}")
        try:
            body = response.json()
        except ValueError:
            raise Transient("a response that is not JSON") from None
        if not isinstance(body, dict):
            raise Transient("a JSON response that is not an object")
        if "error" in body:
            error = body["error"] if isinstance(body["error"], dict) else {"message": str(body["error"])}
            text = _error_text(error)
            missing = [f for f in query.fields if f.lower() in text.lower() and "field" in text.lower()]
            if missing:
                raise FieldMissing(f"{query.service}: the service has no field {missing[0]!r} any more "
                                   f"(it answered: {text[:200]})")
            if isinstance(error.get("code"), int) and 400 <= error["code"] < 500 and error["code"] != 429:
                raise ArcGISFailed(f"{query.service}: {what} refused: {text[:300]}")
            raise Transient(f"an error body: {text[:200]}")
        return body

    return with_retries(once, retry, lambda last: ArcGISFailed(
        f"{query.service}: {what} failed {retry.attempts} times (last: {last})"))


def count(client: httpx.Client, query: Query, retry: Retry) -> int:
    """How many rows the query matches (returnCountOnly)."""
    body = _request(client, query, {"where": query.where, "returnCountOnly": "true", "f": "json"}, retry,
                    "the row count")
    if not isinstance(body.get("count"), int):
        raise ArcGISFailed(f"{query.service}: the row count answer has no count ({str(body)[:200]})")
    return body["count"]


def _check_fields(query: Query, body: dict, features: list) -> None:
    """Every declared field must be in the response (the `fields` list of f=json, else the
    attributes / properties of the features)."""
    if body.get("fields"):
        present = {f.get("name", "") for f in body["fields"]}
    elif features:
        first = features[0]
        present = set((first.get("properties") if query.geojson else first.get("attributes")) or {})
    else:
        return
    present_lower = {p.lower() for p in present}
    for name in query.fields:
        if name.lower() not in present_lower:
            raise FieldMissing(f"{query.service}: the service has no field {name!r} any more "
                               f"(fields now: {', '.join(sorted(present))[:300]})")


def pages(client: httpx.Client, query: Query, retry: Retry | None = None,
          on_page: Callable[[int, int], None] | None = None) -> Iterator[list[dict]]:
    """The query's features a page at a time, every row exactly once; `on_page(rows, total)`
    after each page. Raises ArcGISFailed when the rows cannot all be had."""
    retry = retry or Retry()
    total = count(client, query, retry)
    params = {"where": query.where, "outFields": ",".join(query.fields), "orderByFields": query.order_by,
              "resultRecordCount": str(query.page_size), "f": "geojson" if query.geojson else "json"}
    if query.geojson or query.geometry:
        params |= {"returnGeometry": "true", "outSR": str(query.out_sr)}
    else:
        params["returnGeometry"] = "false"
    received = 0
    while received < total:
        what = f"rows from {received:,}"
        for attempt in range(retry.attempts):
            body = _request(client, query, params | {"resultOffset": str(received)}, retry, what)
            features = body.get("features")
            if not isinstance(features, list):
                raise ArcGISFailed(f"{query.service}: {what}: the answer has no features ({str(body)[:200]})")
            if features:
                break
            if attempt + 1 < retry.attempts:        # an empty page where rows were due: ask again
                retry.sleep(retry.backoff_s * 2 ** attempt)
        else:
            raise ArcGISFailed(f"{query.service}: {what}: empty page {retry.attempts} times, "
                               f"{received:,} of {total:,} rows received")
        _check_fields(query, body, features)
        received += len(features)
        if received > total:
            raise ArcGISFailed(f"{query.service}: more rows than the {total:,} counted (the layer changed "
                               "while it was read?); try again")
        if on_page:
            on_page(received, total)
        yield features


def _value(value) -> str:
    return "" if value is None else str(value)


def write_csv(client: httpx.Client, query: Query, out, rename: dict[str, str] | None = None,
              keep: Callable[[dict[str, str]], bool] | None = None, retry: Retry | None = None,
              on_page: Callable[[int, int], None] | None = None) -> int:
    """Page the table into an open text file as CSV: one column per declared field, headed by
    its name or the name `rename` gives it ("geometry.x" / "geometry.y" for a point layer's
    coordinates). Rows `keep` refuses are left out. Returns the rows written."""
    import csv

    rename = rename or {}
    columns = list(query.fields) + [g for g in ("geometry.x", "geometry.y") if g in rename]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([rename.get(c, c) for c in columns])
    written = 0
    for features in pages(client, query, retry, on_page):
        for feature in features:
            attributes = {k.lower(): v for k, v in (feature.get("attributes") or {}).items()}
            geometry = feature.get("geometry") or {}
            row = {rename.get(c, c): _value(geometry.get(c.split(".")[1]) if c.startswith("geometry.")
                                            else attributes.get(c.lower())) for c in columns}
            if keep is None or keep(row):
                writer.writerow(row.values())
                written += 1
    return written


def write_geojson(client: httpx.Client, query: Query, out, keep: Callable[[dict], bool] | None = None,
                  retry: Retry | None = None, on_page: Callable[[int, int], None] | None = None) -> int:
    """Page the layer into an open text file as one GeoJSON FeatureCollection (features whose
    properties `keep` refuses are left out). Returns the features written."""
    out.write('{"type": "FeatureCollection", "features": [\n')
    written = 0
    for features in pages(client, query, retry, on_page):
        for feature in features:
            if keep is None or keep(feature.get("properties") or {}):
                out.write((",\n" if written else "") + json.dumps(feature, separators=(",", ":")))
                written += 1
    out.write("\n]}\n")
    return written
