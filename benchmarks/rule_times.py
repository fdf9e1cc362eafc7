"""Per-rule time split of a finished run, from Snakemake's ``benchmark:`` files.

    python benchmarks/rule_times.py [results]           # one row per rule: jobs, wall seconds, CPU seconds, peak RSS
    python benchmarks/rule_times.py results --by-job    # one row per job, slowest first

Wall seconds summed over jobs exceed the run's wall time when jobs ran side by side; the share column is
each rule's part of that sum, i.e. of the machine's busy time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def job_times(results: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t")
        if table.empty:
            continue
        last = table.iloc[-1]  # a rerun appends a row; the last one is the run that produced the outputs
        rows.append({"rule": path.relative_to(results / "benchmarks").parts[0], "job": path.stem,
                     "seconds": float(last["s"]), "cpu_seconds": float(last.get("cpu_time", float("nan"))),
                     "max_rss_mb": float(last["max_rss"]) if str(last["max_rss"]) != "-" else float("nan")})
    return pd.DataFrame(rows, columns=["rule", "job", "seconds", "cpu_seconds", "max_rss_mb"])


def rule_times(jobs: pd.DataFrame) -> pd.DataFrame:
    grouped = jobs.groupby("rule")
    table = pd.DataFrame({
        "jobs": grouped.size(),
        "seconds": grouped["seconds"].sum(),
        "mean_seconds": grouped["seconds"].mean(),
        "cpu_seconds": grouped["cpu_seconds"].sum(),
        "max_rss_mb": grouped["max_rss_mb"].max(),
    })
    table["share"] = table["seconds"] / table["seconds"].sum()
    return table.sort_values("seconds", ascending=False).round(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", default="results", type=Path)
    parser.add_argument("--by-job", action="store_true", help="one row per job instead of per rule")
    args = parser.parse_args()
    jobs = job_times(args.results)
    if jobs.empty:
        raise SystemExit(f"no benchmark files under {args.results}/benchmarks")
    table = jobs.sort_values("seconds", ascending=False) if args.by_job else rule_times(jobs)
    print(table.to_string())
    print(f"\n{len(jobs)} jobs, {jobs['seconds'].sum():.0f} job-seconds")


if __name__ == "__main__":
    main()
