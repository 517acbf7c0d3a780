"""Benchmark: the police path at national scale, as ratios against baselines run in the same run.

    .venv/bin/python bench/police_national.py            # ~6.5M rows, 43 forces, 12 months
    .venv/bin/python bench/police_national.py --rows 300000 --lsoas 3000   # a quick look

Each phase runs in a fresh Python process so its wall time and its peak memory (resident set,
including its child processes such as dbt, read from os.wait4) are its own:

  calibrate     the machine's speed at the start: a fixed DuckDB query and a fixed Python loop,
                so runs on a faster or slower moment of this (shared) machine can be compared;
                calibrate_after repeats it at the end (not compared)
  generate      a year of street files in the real layout + reference files (not compared)
  bare_read     baseline: DuckDB read_csv of the same files into a table, nothing else
  reference     vru: ONS lookups and population into the warehouse
  ingest        vru: every street file through the loader (header, rules, quarantine, manifest)
  checks_dbt_publish  vru: the tail a pipeline run executes — GX on the raw batch
                (pipeline.check_raw) → transform.build (dbt build) → GX on the marts
                (pipeline.check_marts) → publish → HTML report (report.write_published_report)
  pandas        baseline: a straightforward pandas implementation of the violence indicator
  next_month    vru: one more month (2026-01) of street and outcomes files ingested, then the tail
  no_change     vru: a scheduled run with nothing new: ingest (every file already loaded, skipped),
                then the whole tail again; every step should find nothing to do
  verify        the pandas and vru values of the violence indicator agree (not timed)
  dag_parse     Airflow's own parser (`airflow dags report -o json`) on every file in dags/, with a
                throw-away AIRFLOW_HOME and sqlite database under --work (not part of end to end)
  calibrate_after  the calibration again

Results go to bench/results/police_national-<UTC stamp>[-<rows>rows].{json,md}: the JSON has the
summary figures as top-level numbers (rows, bare_read_s, ingest_s, checks_s, dbt_s, publish_s,
end_to_end_s, incremental_month_s, no_change_s, peak_rss_mib, dag_parse_max_s, calibration_duckdb_s,
calibration_python_s) and every phase's
own measures under "phases". Not a test: nothing here passes or fails on time; the report states
the figures against their aims and what limits them.
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
DAGS_DIR = HERE.parent / "dags"
# what check_raw, transform.build and check_marts return when there is nothing to do
NOTHING_NEW = {"check_raw": ("no new deliveries to check",),
               "dbt_build": ("nothing new since the last build: dbt not run",),
               "check_marts": ("the marts were not rebuilt since their last passing check: nothing new to check",
                               "no indicator values were rebuilt; nothing new to check")}
VRU_PHASES = ("reference", "ingest", "checks_dbt_publish", "next_month", "no_change")   # peak memory is theirs
PHASES = ("calibrate", "generate", "bare_read", "reference", "ingest", "checks_dbt_publish", "pandas", "next_month",
          "no_change", "verify", "dag_parse", "calibrate_after")
# the calibration workload: the same work in every run, so its time says how fast the machine was
CALIBRATION_ROWS = 100_000_000
CALIBRATION_LOOP = 10_000_000


def _calibrate() -> dict:
    """A fixed DuckDB query (both cores) and a fixed pure-Python loop (one core, as dbt's and GX's
    own Python is): their times, best of three, as the machine's speed at that moment."""
    import duckdb

    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        query = f"SELECT sum(hash(i) % 1000) FROM range({CALIBRATION_ROWS}) AS t(i)"
        duck = []
        for _ in range(3):
            started = time.perf_counter()
            con.execute(query).fetchall()
            duck.append(time.perf_counter() - started)
    python = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(CALIBRATION_LOOP):
            total += i
        python.append(time.perf_counter() - started)
    return {"seconds": sum(duck) + sum(python), "duckdb_s": round(min(duck), 3), "python_s": round(min(python), 3)}


def _phase(name: str, work: Path, args) -> dict:
    """Run one phase in this process (called in the child). Returns its measured seconds."""
    os.environ["VRU_WAREHOUSE_DIR"] = str(work / "warehouse")
    police, reference = work / "police", work / "reference"
    files = sorted(str(p) for p in police.rglob("*-street.csv") if not p.name.startswith(NEXT_MONTH))
    if name in ("calibrate", "calibrate_after"):
        return _calibrate()
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
        return {**tail, "seconds": time.perf_counter() - started, "ingest_seconds": loaded,
                "files": len(new_files) + len(outcome_files), "outcome_rows": outcomes,
                "rows": sum(r.rows_loaded for r in report.results) - outcomes}
    if name == "no_change":
        from ingestion import pipeline

        started = time.perf_counter()        # what a scheduled run does when nothing new was delivered
        report = pipeline.ingest_police_street(police)
        loaded = time.perf_counter() - started
        tail = _tail()
        outcomes = {}
        for r in report.results:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        return {**tail, "seconds": time.perf_counter() - started, "ingest_seconds": loaded, "files": len(report.results),
                "file_outcomes": outcomes, "rows_loaded": sum(r.rows_loaded for r in report.results)}
    if name == "verify":
        return _verify(work)
    if name == "dag_parse":
        return _dag_parse(work)
    raise SystemExit(f"unknown phase {name}")


def _identity(path: Path) -> list[int] | None:
    """What changes when a file is rewritten or replaced (publish renames a new file over the old)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _tail() -> dict:
    """The tail of a pipeline run, step by step: seconds, each step's return value, and whether the
    published file and the report were rewritten (publish and the report return a path either way)."""
    from ingestion import pipeline, transform
    from ingestion.publish import publish
    from ingestion.report import write_published_report
    from ingestion.settings import get_settings

    published = get_settings().published_db
    report_marker = published.parent / "report" / "index.html"
    before = {"publish": _identity(published), "report": _identity(report_marker)}
    steps, returned = {}, {}
    for step, run in [("check_raw", pipeline.check_raw), ("dbt_build", transform.build),
                      ("check_marts", pipeline.check_marts), ("publish", publish), ("report", write_published_report)]:
        started = time.perf_counter()
        returned[step] = str(run())
        steps[step] = round(time.perf_counter() - started, 2)
    rewritten = {"publish": _identity(published) != before["publish"], "report": _identity(report_marker) != before["report"]}
    return {"seconds": sum(steps.values()), "steps": steps, "returned": returned, "rewritten": rewritten}


def _parse_duration(text) -> float:
    """`airflow dags report` gives a timedelta as text ("0:00:00.421995"), or seconds."""
    if isinstance(text, int | float):
        return float(text)
    seconds = 0.0
    for part in str(text).split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _dag_parse(work: Path) -> dict:
    """Each DAG file's parse time in Airflow's own parser (DagBag, as `airflow dags report` runs it),
    against a throw-away AIRFLOW_HOME and sqlite database. Falls back to timing a DagBag per file, each
    in a fresh interpreter, if `dags report` gives nothing usable."""
    home = work / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
           "VRU_WAREHOUSE_DIR": str(work / "warehouse")}
    airflow = str(Path(sys.executable).with_name("airflow"))
    started = time.perf_counter()
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, text=True)
    migrate = time.perf_counter() - started
    started = time.perf_counter()
    done = subprocess.run([airflow, "dags", "report", "-o", "json"], check=False, env=env, capture_output=True, text=True)
    report_seconds = time.perf_counter() - started
    files, method, errors = {}, "airflow dags report -o json (one process, files parsed in turn)", None
    listing = next((ln for ln in done.stdout.splitlines() if ln.lstrip().startswith("[")), None)
    if done.returncode == 0 and listing:
        for entry in json.loads(listing):
            files[entry["file"]] = {"seconds": round(_parse_duration(entry["duration"]), 3),
                                    "dags": entry.get("dags"), "tasks": int(entry.get("task_num") or 0)}
    else:
        errors = (done.stderr or done.stdout)[-2000:]
        method = "DagBag(dag_folder=<file>) per file, each in a fresh interpreter (dags report failed)"
        probe = ("import sys, time\nfrom airflow.dag_processing.dagbag import DagBag\nt = time.perf_counter()\n"
                 "bag = DagBag(dag_folder=sys.argv[1], include_examples=False)\n"
                 "print(time.perf_counter() - t, len(bag.dags), len(bag.import_errors))")
        for path in sorted(DAGS_DIR.glob("*.py")):
            out = subprocess.run([sys.executable, "-c", probe, str(path)], env=env, capture_output=True, text=True,
                                 check=True).stdout.split()
            files[path.name] = {"seconds": round(float(out[-3]), 3), "dags": int(out[-2]), "import_errors": int(out[-1])}
    return {"seconds": max((f["seconds"] for f in files.values()), default=0.0), "files": files, "method": method,
            "dags_report_seconds": round(report_seconds, 2), "db_migrate_seconds": round(migrate, 2), "error": errors}


def summary(r: dict) -> dict:
    """The top-level figures of the results file, from the phases' own measures."""
    year = r["checks_dbt_publish"]["steps"]
    return {
        "rows": r["generate"]["rows"],
        "bare_read_s": round(r["bare_read"]["seconds"], 2),
        "ingest_s": round(r["ingest"]["seconds"], 2),
        "checks_s": round(year["check_raw"] + year["check_marts"], 2),
        "dbt_s": round(year["dbt_build"], 2),
        "publish_s": round(year["publish"], 2),
        "end_to_end_s": round(r["reference"]["seconds"] + r["ingest"]["seconds"] + year["check_raw"] + year["dbt_build"]
                              + year["check_marts"] + year["publish"], 2),
        "incremental_month_s": round(r["next_month"]["seconds"], 2),
        "no_change_s": round(r["no_change"]["seconds"], 2),
        "peak_rss_mib": max(r[k]["peak_rss_mib"] for k in VRU_PHASES),
        "dag_parse_max_s": round(r["dag_parse"]["seconds"], 3),
        "calibration_duckdb_s": r["calibrate"]["duckdb_s"],
        "calibration_python_s": r["calibrate"]["python_s"],
    }


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


def _steps(values: dict) -> str:
    return ", ".join(f"{k} {v}s" for k, v in values["steps"].items())


def _report(results: dict, figures: dict) -> str:
    r, f = results, figures
    year = r["checks_dbt_publish"]["steps"]
    ingest_ratio = f["ingest_s"] / f["bare_read_s"]
    pandas_ratio = f["end_to_end_s"] / r["pandas"]["seconds"]
    idle = r["no_change"]
    did_work = {step: text for step, text in idle["returned"].items()
                if step in ("check_raw", "dbt_build", "check_marts") and text not in NOTHING_NEW.get(step, ())}
    did_work.update({step: "rewrote the file" for step, changed in idle["rewritten"].items() if changed})
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
    calibration = {name: f"fixed DuckDB query {r[name]['duckdb_s']:.2f} s, fixed Python loop {r[name]['python_s']:.2f} s "
                         "(best of 3; the machine's speed)" for name in ("calibrate", "calibrate_after")}
    notes = {
        **calibration,
        "generate": "test data, not compared",
        "bare_read": "baseline: DuckDB read_csv → table",
        "reference": "vru: ONS lookups + population",
        "ingest": "vru: loader, every rule, manifest",
        "checks_dbt_publish": "vru: " + _steps(r["checks_dbt_publish"]),
        "pandas": "baseline: pandas violence indicator (5 levels × 5 period types)",
        "next_month": (f"vru: {r['next_month']['rows']:,} street + {r['next_month'].get('outcome_rows', 0):,} outcome rows; "
                       f"ingest {r['next_month']['ingest_seconds']:.1f}s, " + _steps(r["next_month"])),
        "no_change": (f"vru: nothing new; ingest {idle['ingest_seconds']:.1f}s ("
                      + ", ".join(f"{n} {k}" for k, n in idle["file_outcomes"].items()) + f" of {idle['files']} files), "
                      + _steps(idle)),
        "verify": f"{r['verify']['values_compared']:,} violence values compared, {r['verify']['differ']} differ, "
                  f"{r['verify']['only_in_one']} in only one",
        "dag_parse": f"slowest DAG file; {len(r['dag_parse']['files'])} files (table below), not part of end to end",
    }
    for name, values in r.items():
        lines.append(f"| {name} | {values['seconds']:.1f} | {values['peak_rss_mib']:,} | {notes[name]} |")
    lines += [
        "",
        "| measure | result | aim |",
        "|---|---:|---|",
        (f"| end to end, the year: reference + ingest + check_raw + dbt + check_marts + publish "
         f"(raw files to published file) | {f['end_to_end_s']:.1f} s | under 60 s |"),
        f"| ingest ÷ bare read_csv | {ingest_ratio:.2f}× ({f['ingest_s']:.1f} s vs {f['bare_read_s']:.1f} s) | within 1.5× |",
        f"| one more month, end to end (ingest + tail incl. report) | {f['incremental_month_s']:.1f} s | under 20 s |",
        f"| nothing new, end to end (ingest + tail incl. report) | {f['no_change_s']:.1f} s | under 5 s |",
        f"| peak memory of any vru phase (incl. dbt) | {f['peak_rss_mib']:,} MiB | under 4,096 MiB |",
        f"| slowest DAG file parse (Airflow's parser) | {f['dag_parse_max_s']:.2f} s | each under 1 s |",
        f"| end to end ÷ pandas violence indicator | {pandas_ratio:.2f}× | (context) |",
        f"| pandas and vru values agree | {'yes' if r['verify']['agree'] else 'NO'} | yes |",
        "",
        (f"The year's figures: checks {f['checks_s']:.1f} s (check_raw {year['check_raw']} s + check_marts "
         f"{year['check_marts']} s), dbt {f['dbt_s']:.1f} s, publish {f['publish_s']:.1f} s. The HTML report of the "
         f"published file took {year['report']} s for the year and is not in end to end (the aim is raw files to "
         "published file); it is in the one-more-month and nothing-new figures, since a scheduled run waits for it."),
        "",
        (f"How fast the machine was: the calibration (a fixed DuckDB query over {CALIBRATION_ROWS:,} integers on both "
         f"cores, and a fixed {CALIBRATION_LOOP:,}-step Python loop) took {f['calibration_duckdb_s']:.2f} s and "
         f"{f['calibration_python_s']:.2f} s at the start, {r['calibrate_after']['duckdb_s']:.2f} s and "
         f"{r['calibrate_after']['python_s']:.2f} s at the end. This machine is shared: the same work takes longer when "
         "these do, so compare runs by these first."),
        "",
        "What each step returned:",
        "",
        "| step | year | one more month | nothing new |",
        "|---|---|---|---|",
    ]
    for step in r["checks_dbt_publish"]["returned"]:
        cells = []
        for phase in ("checks_dbt_publish", "next_month", "no_change"):
            text = r[phase]["returned"][step]
            if step in r[phase]["rewritten"]:
                text = ("rewritten: " if r[phase]["rewritten"][step] else "left as it was: ") + Path(text).name
            cells.append(text.replace("|", "\\|").replace("\n", " "))
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines += ["", ("With nothing new every step found nothing to do." if not did_work else
                   "**With nothing new, some steps still did work:** "
                   + "; ".join(f"{k}: \"{v}\"" for k, v in did_work.items()))]
    parse = r["dag_parse"]
    lines += [
        "",
        (f"DAG files parsed with {parse['method']}; `dags report` took {parse['dags_report_seconds']} s in all "
         "(Airflow's start-up included). In one process the first file to import the shared modules (vru_airflow, "
         "ingestion, cosmos) carries their import time."),
        "",
        "| DAG file | parse seconds | DAGs |",
        "|---|---:|---|",
    ]
    for name, entry in sorted(parse["files"].items(), key=lambda kv: -kv[1]["seconds"]):
        dags = entry["dags"] if isinstance(entry["dags"], int) else ", ".join(entry["dags"] or [])
        lines.append(f"| {name} | {entry['seconds']:.3f} | {dags} |")
    if parse.get("error"):
        lines += ["", "`airflow dags report` failed:", "", "```", parse["error"], "```"]
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
    for name in PHASES:
        print(f"… {name}", flush=True)
        results[name] = _run_child(name, args.work, passed)
        print(f"  {name}: {results[name]['seconds']:.1f}s, peak {results[name]['peak_rss_mib']} MiB", flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    label = "" if args.rows == 6_500_000 else f"-{args.rows}rows"
    figures = summary(results)
    report = _report(results, figures)
    (out_dir / f"police_national-{stamp}{label}.md").write_text(report)
    (out_dir / f"police_national-{stamp}{label}.json").write_text(json.dumps({**figures, "phases": results}, indent=2))
    print(report)


if __name__ == "__main__":
    main()
