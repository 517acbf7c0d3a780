"""Pseudonymisation of direct patient identifiers, at ingestion and nowhere else.

Health extracts sometimes arrive carrying NHS numbers, names, dates of birth and full postcodes.
None of them is ever stored: the loader reads them from the delivered text and writes only what
is derived here, in the same set-based SELECT that writes the raw rows:

- `patient_key`: HMAC-SHA256 of the NHS number (or, without a valid one, of name and date of
  birth) under a key held outside the repository, so repeat attendances can still be counted
  and nobody without the key can test a guess ("is 943 476 5919 in here?") against the file;
- `age_at_arrival` and `age_band` instead of the date of birth;
- `postcode_district` (the outward code, `RG1`) instead of the postcode.

The key: `VRU_PSEUDONYMISATION_KEY`, or the file named by `VRU_PSEUDONYMISATION_KEY_FILE` (a
mounted secret); Airflow tasks put the connection `vru_pseudonymisation`'s password there
(dags/vru_airflow). The same key must be used for every load whose keys are compared. DuckDB has
no HMAC function, so the standard construction is written in SQL over its `sha256`: the padded
keys are bound as session variables (never in SQL text, never in a table) and reset after use.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb

from ingestion.errors import VruError

KEY_ENV = "VRU_PSEUDONYMISATION_KEY"
KEY_FILE_ENV = "VRU_PSEUDONYMISATION_KEY_FILE"
AIRFLOW_CONNECTION = "vru_pseudonymisation"
MIN_KEY_BYTES = 16
_BLOCK = 64                                  # SHA-256's block size, as HMAC pads to it
_IPAD, _OPAD = "vru_hmac_ipad", "vru_hmac_opad"


class KeyInvalid(VruError):
    hint = (f"set {KEY_ENV} (or {KEY_FILE_ENV}) to a secret of at least {MIN_KEY_BYTES} characters, "
            "kept outside the repository, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`")


def configured_key() -> bytes | None:
    """The pseudonymisation key from configuration, or None when none is configured."""
    text = os.environ.get(KEY_ENV)
    if not text and os.environ.get(KEY_FILE_ENV):
        try:
            text = Path(os.environ[KEY_FILE_ENV]).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KeyInvalid(f"{KEY_FILE_ENV} names {os.environ[KEY_FILE_ENV]!r}, which cannot be read "
                             f"({error.strerror})") from None
    if not text:
        return None
    key = text.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise KeyInvalid(f"the pseudonymisation key is {len(key)} characters long; at least "
                         f"{MIN_KEY_BYTES} are needed so it cannot be guessed")
    return key


@contextlib.contextmanager
def key_bound(con: duckdb.DuckDBPyConnection, key: bytes | None):
    """Bind a key's padded forms as session variables for `keyed_hash_sql`, for the `with` block
    only. A key longer than a block is hashed first, as HMAC says."""
    if key is None:
        yield
        return
    import hashlib

    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    con.execute(f"SET VARIABLE {_IPAD} = ?", [bytes(b ^ 0x36 for b in key)])
    con.execute(f"SET VARIABLE {_OPAD} = ?", [bytes(b ^ 0x5C for b in key)])
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"RESET VARIABLE {_IPAD}")
            con.execute(f"RESET VARIABLE {_OPAD}")


def keyed_hash_sql(expr: str) -> str:
    """HMAC-SHA256 (hex) of a text expression under the bound key; NULL when it is NULL."""
    return (f"sha256(getvariable('{_OPAD}') || unhex(sha256(getvariable('{_IPAD}') || "
            f"encode({expr}))))")


def nhs_number_sql(expr: str) -> str:
    """The 10 digits of an NHS number (spaces and dashes removed) when its modulus 11 check digit
    is right, else NULL: a mistyped number must not become a different patient's key."""
    digits = f"regexp_replace(coalesce({expr}, ''), '[\\s-]', '', 'g')"
    weighted = "list_sum([CAST(substr(d, i, 1) AS INTEGER) * (11 - i) FOR i IN range(1, 10)])"
    return (f"(SELECT CASE WHEN regexp_full_match(d, '\\d{{10}}') AND (11 - {weighted} % 11) % 11 <> 10 "
            f"AND (11 - {weighted} % 11) % 11 = CAST(substr(d, 10, 1) AS INTEGER) THEN d END "
            f"FROM (SELECT {digits} AS d))")


def patient_key_sql(nhs_number: str, name: str, birth_date: str) -> str:
    """The keyed hash of the valid NHS number, else of the normalised name with the date of birth
    (both needed), else NULL."""
    person = (f"CASE WHEN nullif(trim({name}), '') IS NOT NULL AND nullif(trim({birth_date}), '') IS NOT NULL "
              f"THEN 'person:' || lower(regexp_replace(trim({name}), '\\s+', ' ', 'g')) || '|' || trim({birth_date}) END")
    return keyed_hash_sql(f"coalesce('nhs:' || {nhs_number_sql(nhs_number)}, {person})")


def age_sql(birth_date: str, on_date: str) -> str:
    """Completed years between a date of birth (text, ISO) and a date; NULL when unreadable."""
    born = f"CAST(TRY_CAST(trim({birth_date}) AS DATE) AS TIMESTAMP)"
    return f"CAST(date_part('year', age(CAST({on_date} AS TIMESTAMP), {born})) AS INTEGER)"


def postcode_district_sql(expr: str) -> str:
    """The outward code of a UK postcode (`RG1 4AB` → `RG1`): the postcode without its last three
    characters, spaces removed; NULL when it is not shaped like a postcode."""
    compact = f"upper(regexp_replace(coalesce({expr}, ''), '\\s', '', 'g'))"
    return (f"(SELECT CASE WHEN regexp_full_match(p, '[A-Z]{{1,2}}[0-9][A-Z0-9]?[0-9][A-Z]{{2}}') "
            f"THEN left(p, length(p) - 3) END FROM (SELECT {compact} AS p))")


def age_band_sql(age: str) -> str:
    """The five-year band of an age, as ESP2013 bands it (0-4, 5-9, …, 85-89, 90+)."""
    return (f"CASE WHEN {age} IS NULL THEN NULL WHEN {age} >= 90 THEN '90+' "
            f"ELSE CAST({age} // 5 * 5 AS VARCHAR) || '-' || CAST({age} // 5 * 5 + 4 AS VARCHAR) END")
