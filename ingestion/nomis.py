"""A small client for the Nomis API's CSV data (https://www.nomisweb.co.uk/api/v01/dataset/<id>.data.csv),
as ONS serves its small-area population estimates.

Nomis answers at most 25,000 rows per request without a key, so a query is read a page at a time
(RecordOffset, RecordLimit) until a page comes back short; the RECORD_COUNT column (Nomis's own
count of the query's rows) is then checked against the rows received, so a truncated answer is an
incomplete download, never a smaller file. Transient faults (HTTP 5xx or 429, timeouts, an empty
page where rows were due: Nomis answers a bad query with HTTP 200 and no rows) are retried with
the ArcGIS client's retry and backoff (arcgis.with_retries); a page without a declared column is
refused at once, naming the dataset and the column.

The long answer (one row per area × sex × age) is written in a declared population layout: one
row per area and sex with a column per single year of age and Nomis's own all-ages count, so the
loader's rule that all ages equals the sum of the ages checks Nomis against itself.
Nothing here writes the target: callers write to a temporary file and rename it when complete.
"""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

from ingestion.arcgis import ArcGISFailed, FieldMissing, Retry, Transient, with_retries


class NomisFailed(ArcGISFailed):
    hint = "nothing was changed; check the Nomis address and query in the downloads config or try again later"


class ColumnMissing(NomisFailed, FieldMissing):
    hint = ("the Nomis answer no longer has a column the download needs: update `fields` (and `layout`) for "
            "it in the downloads config; nothing was changed")


@dataclass(frozen=True)
class Query:
    url: str                        # …/api/v01/dataset/<id>.data.csv
    params: tuple[tuple[str, str], ...]   # geography, date, gender, c_age, measures…
    fields: tuple[str, ...]         # select=, each required (as Nomis heads it, upper case) in every page
    page_size: int = 25_000         # Nomis's limit per request without a key

    @property
    def dataset(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1].split(".")[0]


def pages(client: httpx.Client, query: Query, retry: Retry | None = None,
          on_page: Callable[[int, int], None] | None = None) -> Iterator[list[dict[str, str]]]:
    """The query's rows a page at a time; `on_page(rows, total)` after each page."""
    retry = retry or Retry()
    params = dict(query.params) | {"select": ",".join(f.lower() for f in (*query.fields, "RECORD_COUNT")),
                                   "RecordLimit": str(query.page_size)}
    received, total = 0, None
    while True:
        what = f"rows from {received:,}"

        def once(offset=received, what=what, total=total) -> list[dict[str, str]]:
            response = client.get(query.url, params=params | {"RecordOffset": str(offset)}, timeout=retry.timeout_s)
            if response.status_code >= 500 or response.status_code == 429:
                raise Transient(f"HTTP {response.status_code}")
            if response.status_code >= 400:
                raise NomisFailed(f"{query.dataset}: {what} refused: HTTP {response.status_code} {response.text[:200]}")
            reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
            rows = list(reader)
            due = total is None or offset < total
            if not rows and due:
                raise Transient("an empty page where rows were due")
            header = {h.strip().upper() for h in reader.fieldnames or ()}
            for name in (*query.fields, "RECORD_COUNT"):
                if rows and name.upper() not in header:
                    raise ColumnMissing(f"{query.dataset}: the answer has no column {name!r} any more "
                                        f"(columns now: {', '.join(sorted(header))[:300]})")
            return [{k.strip().upper(): (v or "").strip() for k, v in row.items() if k} for row in rows]

        rows = with_retries(once, retry, lambda last, what=what: NomisFailed(
            f"{query.dataset}: {what} failed {retry.attempts} times (last: {last})"))
        if rows:
            counted = rows[0]["RECORD_COUNT"]
            if not counted.isdigit() or (total is not None and int(counted) != total):
                raise NomisFailed(f"{query.dataset}: {what}: RECORD_COUNT {counted!r}, not the {total} first "
                                  "counted (the dataset changed while it was read?); try again")
            total = int(counted)
        received += len(rows)
        if total is not None and received > total:
            raise NomisFailed(f"{query.dataset}: more rows than the {total:,} counted; try again")
        if on_page:
            on_page(received, total or 0)
        if rows:
            yield rows
        if len(rows) < query.page_size or received == total:
            break
    if received != total:
        raise NomisFailed(f"{query.dataset}: {received:,} of the {total:,} rows counted received (a short page "
                          "before the end); try again")


@dataclass(frozen=True)
class WideLayout:
    """How the long answer becomes the population layout the loader reads (ons.POPULATION_AREA:
    period, area_code, area_name, geography, sex, all_ages, 0…<last age>); every name and code
    is declared in the downloads config, none is assumed here."""
    period: str                     # the column with the year, e.g. DATE
    area_code: str                  # e.g. GEOGRAPHY_CODE
    area_name: str                  # e.g. GEOGRAPHY_NAME
    sex: str                        # e.g. GENDER
    age: str                        # e.g. C_AGE
    value: str                      # e.g. OBS_VALUE
    sexes: tuple[tuple[str, str], ...]   # code → Males / Females
    first_age_code: int             # the code of age 0; age n is first_age_code + n
    last_age: int                   # the oldest single year (its code is the open-ended band, e.g. 90+)
    all_ages_code: str              # the code of the all-ages count
    geography: str                  # the loader's geography value for these areas (LSOA)
    period_suffix: str = "-06-30"   # mid-year: the period is the year's 30 June

    @classmethod
    def from_pairs(cls, pairs) -> WideLayout:
        values = dict(pairs)
        values["sexes"] = tuple(dict(values["sexes"]).items())
        values["first_age_code"], values["last_age"] = int(values["first_age_code"]), int(values["last_age"])
        return cls(**values)

    def columns(self) -> tuple[str, ...]:
        return (self.period, self.area_code, self.area_name, self.sex, self.age, self.value)


def write_wide_csv(client: httpx.Client, query: Query, layout: WideLayout, out,
                   keep: Callable[[dict[str, str]], bool] | None = None, retry: Retry | None = None,
                   on_page: Callable[[int, int], None] | None = None) -> int:
    """Page the query and write one CSV row per area × sex (rows `keep` refuses left out). A cell
    given twice, a code not declared, a count that is not a whole number or an area × sex
    missing a cell refuses the download. Returns the rows written."""
    missing = [c for c in layout.columns() if c not in query.fields]
    if missing:
        raise NomisFailed(f"{query.dataset}: layout columns {missing} are not in `fields`")
    sexes, ages = dict(layout.sexes), layout.last_age + 1
    slot = {str(layout.first_age_code + n): n for n in range(ages)} | {layout.all_ages_code: ages}
    cells: dict[tuple[str, str, str], tuple[str, array]] = {}
    for rows in pages(client, query, retry, on_page):
        for row in rows:
            if keep is not None and not keep(row):
                continue
            sex, age, value = row[layout.sex], row[layout.age], row[layout.value]
            if sex not in sexes or age not in slot:
                raise NomisFailed(f"{query.dataset}: {layout.sex} {sex!r} / {layout.age} {age!r} is not a declared "
                                  f"code (sexes {sorted(sexes)}, ages {layout.first_age_code}…"
                                  f"{layout.first_age_code + layout.last_age}, all ages {layout.all_ages_code})")
            if not value.isdigit():
                raise NomisFailed(f"{query.dataset}: {row[layout.area_code]} {sex}/{age}: count {value[:20]!r} "
                                  "is not a whole number")
            key = (row[layout.period], row[layout.area_code], sexes[sex])
            name, counts = cells.setdefault(key, (row[layout.area_name], array("q", [-1] * (ages + 1))))
            if counts[slot[age]] != -1:
                raise NomisFailed(f"{query.dataset}: {key} age code {age} given twice")
            counts[slot[age]] = int(value)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", "area_code", "area_name", "geography", "sex", "all_ages",
                     *(str(n) for n in range(ages))])
    for (period, code, sex), (name, counts) in sorted(cells.items()):
        if -1 in counts:
            raise NomisFailed(f"{query.dataset}: {code} {sex} {period}: {list(counts).count(-1)} age cell(s) missing")
        writer.writerow([f"{period}{layout.period_suffix}", code, name, layout.geography, sex, counts[ages],
                         *counts[:ages]])
    return len(cells)
