"""Benchmark: the police path at national scale, as ratios against baselines run in the same run.

    .venv/bin/python bench/police_national.py            # ~6.5M rows, 43 forces, 12 months
    .venv/bin/python bench/police_national.py --rows 300000 --lsoas 3000   # a quick look

Each phase runs in a fresh Python process so its wall time and its peak memory (resident set,
including its child processes such as dbt, read from os.wait4) are its own:

  generate      a year of street files in the real layout + reference files (not compared)
  bare_read     baseline: DuckDB read_csv of the same files into a table, nothing else
  reference     vru: ONS lookups and population into the warehouse
  ingest        vru: every street file through the loader (header, rules, quarantine, manifest)
  checks_dbt_publish  vru: GX on the raw batch → dbt build → GX on the marts → publish
  pandas        baseline: a straightforward pandas implementation of the violence indicator
  next_month    vru: one more month (2026-01) of street and outcomes files ingested, checked, built
                and published
  verify        the pandas and vru values of the violence indicator agree (not timed)

Results go to bench/results/police_national-<date>.{json,md}. Not a test: nothing here passes or
fails on time; the report states the ratios and what limits them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

NEXT_MONTH = "2026-01"


def _phase(name: str, work: Path, args) -> dict:
    """Run one phase in this process (called in the child). Returns its measured seconds."""
    os.environ["VRU_WAREHOUSE_DIR"] = str(work / "warehouse")
    police, reference = work / "police", work / "reference"
    files = sorted(str(p) for p in police.rglob("*-street.csv") if not p.name.startswith(NEXT_MONTH))
    if name == "generate":
        from generate_national import generate

        started = time.perf_counter()
        data = generate(work, rows=args.rows, lsoas=args.lsoas)
        return {"seconds": time.perf_counter() - started, "rows": data.rows, "files": len(data.street_files),
                "lsoas": data.lsoas}
    if name == "bare_read":
        import duckdb

        target = work / "bare.duckdb"
        target.unlink(missing_ok=True)
        started = time.perf_counter()
        with duckdb.connect(str(target)) as con:
            con.execute("CREATE TABLE street AS SELECT * FROM read_csv(?, header = true)", [files])
            rows = con.execute("SELECT count(*) FROM street").fetchone()[0]
        return {"seconds": time.perf_counter() - started, "rows": rows}
    if name == "reference":
        from ingestion import pipeline

        started = time.perf_counter()
        pipeline.load_reference(reference)
        return {"seconds": time.perf_counter() - started}
    if name == "ingest":
        from ingestion import pipeline

        started = time.perf_counter()
        report = pipeline.ingest_police_street(police)
        return {"seconds": time.perf_counter() - started, "rows": sum(r.rows_loaded for r in report.results),
                "files": len(report.results)}
    if name == "checks_dbt_publish":
        return _tail()
    if name == "pandas":
        from pandas_violence import violence_indicator

        started = time.perf_counter()
        result = violence_indicator([Path(f) for f in files], reference)
        seconds = time.perf_counter() - started
        result.to_pickle(work / "pandas_violence.pkl")
        return {"seconds": seconds, "values": len(result)}
    if name == "next_month":
        import duckdb

        from generate_national import write_month, write_outcomes, write_reference
        from ingestion import pipeline

        with duckdb.connect() as con:       # the same synthetic areas, one more month of files
            con.execute("CREATE MACRO initcap(s) AS list_aggregate(list_transform(string_split(s, ' '), "
                        "lambda w: upper(w[1]) || lower(w[2:])), 'string_agg', ' ')")
            write_reference(con, work / "_next", args.lsoas)
            new_files = write_month(con, work, NEXT_MONTH, args.rows // 12)
            # the month's outcomes for earlier crimes travel with it, as in police.uk archives
            outcome_files = write_outcomes(con, work, NEXT_MONTH, sorted({p.parent.name for p in police.glob("*/*-street.csv")}
                                                                         - {NEXT_MONTH}), args.rows // 12)
        started = time.perf_counter()
        report = pipeline.ingest_police_street(police, month=NEXT_MONTH)
        loaded = time.perf_counter() - started
        tail = _tail()
        outcomes = sum(r.rows_loaded for r in report.results if r.source == "police_outcomes")
        return {"seconds": time.perf_counter() - started, "ingest_seconds": loaded,
                "files": len(new_files) + len(outcome_files), "outcome_rows": outcomes,
                "rows": sum(r.rows_loaded for r in report.results) - outcomes, "steps": tail["steps"]}
    if name == "verify":
        return _verify(work)
    raise SystemExit(f"unknown phase {name}")


def _tail() -> dict:
    from ingestion import pipeline
    from ingestion.publish import publish
    from ingestion.transform import run_dbt

    steps = {}
    for step, run in [("check_raw", pipeline.check_raw), ("dbt_build", lambda: run_dbt(["build"])),
                      ("check_marts", pipeline.check_marts), ("publish", publish)]:
        started = time.perf_counter()
        run()
        steps[step] = round(time.perf_counter() - started, 2)
    return {"seconds": sum(steps.values()), "steps": steps}


def _verify(work: Path) -> dict:
    """The two implementations must give the same violence values, or the comparison is void."""
    import duckdb
    import pandas as pd

    ours = pd.read_pickle(work / "pandas_violence.pkl")
    with duckdb.connect(str(work / "warehouse" / "published" / "vru.duckdb"), read_only=True) as con:
        con.register("pandas_values", ours)
        row = con.execute("""
            WITH vru AS (
                SELECT area_code, area_type, period_type, period_start, numerator, value, lower_ci_95, upper_ci_95
                FROM fct_indicator_value WHERE indicator_id = 'violence_offences_rate'
                  AND area_type IN ('lsoa', 'msoa', 'lad', 'csp', 'pfa') AND period_end <= DATE '2025-12-31'
                  AND period_type <> 'academic_year')
            SELECT count(*), count(v.area_code), count(p.area_code),
                   count(*) FILTER (v.numerator <> p.numerator
                                    OR abs(coalesce(v.value, -1) - coalesce(p.value, -1)) > 1e-9 * greatest(1, abs(p.value))
                                    OR abs(coalesce(v.upper_ci_95, -1) - coalesce(p.upper_ci_95, -1))
                                       > 1e-6 * greatest(1, abs(p.upper_ci_95)))
            FROM vru AS v FULL JOIN pandas_values AS p
              ON v.area_code = p.area_code AND v.area_type = p.area_type AND v.period_type = p.period_type
             AND v.period_start = p.period_start::DATE""").fetchone()
    total, in_vru, in_pandas, differ = row
    return {"seconds": 0.0, "values_compared": total, "only_in_one": total - min(in_vru, in_pandas),
            "differ": differ, "agree": in_vru == in_pandas == total and differ == 0}


def _run_child(name: str, work: Path, argv: list[str]) -> dict:
    started = time.perf_counter()
    out = work / f".phase-{name}.json"
    process = subprocess.Popen([sys.executable, __file__, "--phase", name, "--work", str(work),
                                "--result", str(out), *argv])
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"phase {name} failed")
    result = json.loads(out.read_text())
    result["wall_seconds"] = round(wall, 2)
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024)   # Linux: KiB; includes waited-for children
    return result


def _report(results: dict, args, path: Path) -> str:
    r = results
    ingest_ratio = r["ingest"]["seconds"] / r["bare_read"]["seconds"]
    path_seconds = r["reference"]["seconds"] + r["ingest"]["seconds"] + r["checks_dbt_publish"]["seconds"]
    pandas_ratio = path_seconds / r["pandas"]["seconds"]
    peak = max(v["peak_rss_mib"] for k, v in r.items() if k not in ("generate", "pandas", "bare_read", "verify"))
    lines = [
        f"# Police path at national scale — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        (f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
         f"{r['generate']['rows']:,} street rows in {r['generate']['files']} files (43 forces × 12 months), "
         f"{r['generate']['lsoas']:,} LSOAs. One run; each phase in its own process."),
        "",
        "| phase | seconds | peak memory (MiB) | note |",
        "|---|---:|---:|---|",
    ]
    notes = {
        "generate": "test data, not compared",
        "bare_read": "baseline: DuckDB read_csv → table",
        "reference": "vru: ONS lookups + population",
        "ingest": "vru: loader, every rule, manifest",
        "checks_dbt_publish": "vru: " + ", ".join(f"{k} {v}s" for k, v in r["checks_dbt_publish"]["steps"].items()),
        "pandas": "baseline: pandas violence indicator (5 levels × 5 period types)",
        "next_month": (f"vru: {r['next_month']['rows']:,} street + {r['next_month'].get('outcome_rows', 0):,} outcome rows; "
                       f"ingest {r['next_month']['ingest_seconds']:.1f}s, "
                       + ", ".join(f"{k} {v}s" for k, v in r["next_month"]["steps"].items())),
        "verify": f"{r['verify']['values_compared']:,} violence values compared, {r['verify']['differ']} differ, "
                  f"{r['verify']['only_in_one']} in only one",
    }
    for name, values in r.items():
        lines.append(f"| {name} | {values['seconds']:.1f} | {values['peak_rss_mib']:,} | {notes[name]} |")
    lines += [
        "",
        "| measure | result | aim |",
        "|---|---:|---|",
        f"| ingest ÷ bare read_csv | {ingest_ratio:.2f}× | within 2× |",
        f"| whole police path (reference + ingest + checks + dbt + publish) | {path_seconds:.0f} s | under 180 s |",
        f"| whole police path ÷ pandas violence indicator | {pandas_ratio:.2f}× | (context) |",
        f"| one more month, end to end | {r['next_month']['seconds']:.1f} s | under 20 s |",
        f"| peak memory of any vru phase (incl. dbt) | {peak:,} MiB | under 4,096 MiB |",
        f"| pandas and vru values agree | {'yes' if r['verify']['agree'] else 'NO'} | yes |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=6_500_000, help="street rows in the year (default 6.5M)")
    parser.add_argument("--lsoas", type=int, default=33_000, help="LSOAs across the 43 forces")
    parser.add_argument("--work", type=Path, default=Path("/tmp/vru-bench"), help="scratch folder (emptied)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = _phase(args.phase, args.work, args)
        args.result.write_text(json.dumps(result))
        return

    import shutil

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    passed = ["--rows", str(args.rows), "--lsoas", str(args.lsoas)]
    results = {}
    for name in ["generate", "bare_read", "reference", "ingest", "checks_dbt_publish", "pandas", "next_month", "verify"]:
        print(f"… {name}", flush=True)
        results[name] = _run_child(name, args.work, passed)
        print(f"  {name}: {results[name]['seconds']:.1f}s, peak {results[name]['peak_rss_mib']} MiB", flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    label = "" if args.rows == 6_500_000 else f"-{args.rows}rows"
    report = _report(results, args, out_dir)
    (out_dir / f"police_national-{stamp}{label}.md").write_text(report)
    (out_dir / f"police_national-{stamp}{label}.json").write_text(json.dumps(results, indent=2))
    print(report)


if __name__ == "__main__":
    main()
