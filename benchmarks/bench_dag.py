"""How long Snakemake takes to plan the workflow: a 5 000-video DAG, and a no-op rerun of a finished run.

Run: ``python benchmarks/bench_dag.py [--videos 5000] [--shards 50] [--folds 5] [--finished DIR] [--repeat 3]``.

1. **Large DAG.** In a temp folder: a sample sheet of ``--videos`` entries (tiny placeholder files; a dry run
   opens none of them, the index rule's only input is the sheet itself) and a config with 10 of the registered
   models (all but ``EXCLUDED``) x ``--folds`` folds x ``--shards`` shards. ``snakemake -n``: wall time and
   job count. Videos are sharded, so there is no per-video job: the count is shards x clipsets (clips) +
   shards x feature clipsets (features) + models x folds (training) + a few (index, split, merge, compare...).
2. **No-op rerun.** On a finished run of ``tests/configs/tiny`` (``--finished DIR`` reuses one made with that
   config, else the script makes it, about 1.5 min on 2 cores): ``snakemake -n`` and a real
   ``snakemake --cores 2``, both of which must schedule 0 jobs; wall time of each.

Each timing is the median of ``--repeat`` runs. Targets (docs/reliability.md): the large dry run <= 10 s and
<= 2 000 jobs; a no-op rerun <= 5 s and 0 jobs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' Snakemake runner, so the benchmark times the command line they run

from tests.workflow.runner import TINY, job_counts, snakemake_cmd  # noqa: E402
EXCLUDED = ("vit_transformer", "slowfast", "x3d")  # 13 registered - 3 = 10 models


def snakemake(workdir: Path, configfile: Path, *args: str) -> tuple[float, str]:
    """Wall time and output of one real Snakemake command line (the tests' own) in ``workdir``."""
    started = time.perf_counter()
    proc = subprocess.run(snakemake_cmd(workdir, *args, configfile=configfile), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


def timed(workdir: Path, configfile: Path, repeat: int, *args: str) -> tuple[float, dict[str, int], list[float]]:
    runs = [snakemake(workdir, configfile, *args) for _ in range(repeat)]
    times = [seconds for seconds, _ in runs]
    return statistics.median(times), job_counts(runs[-1][1]), times


def large_sheet(root: Path, videos: int, shards: int, folds: int) -> Path:
    """A sheet of ``videos`` placeholder files (half real, half fake, groups of 4) and its config; returns the config."""
    from fvc.models import list_models

    data = root / "data"
    (data / "media").mkdir(parents=True)
    lines = ["path,label,group,family"]
    for i in range(videos):
        label = "real" if i % 2 == 0 else "fake"
        rel = f"media/{i // 1000:02d}/{label}_{i:05d}.mp4"
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(b"\0")  # exists; never opened by a dry run
        lines.append(f"{rel},{label},g{i // 4:05d},{'none' if label == 'real' else 'synthetic'}")
    (data / "samples.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    models = [m for m in list_models() if m not in EXCLUDED]
    assert len(models) == 10, models
    # The whole default config, overridden: with --directory, the Snakefile's relative `configfile:` is not
    # found, so the file given with --configfile must be complete.
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    config.update({"input": {"kind": "sheet", "path": str(data / "samples.csv"), "root": None}, "split": {"folds": folds},
                   "shards": shards, "models": models})  # fmt: skip
    configfile = root / "config.yaml"
    configfile.write_text(yaml.safe_dump(config), encoding="utf-8")
    return configfile


def expected_jobs(counts: dict[str, int]) -> str:
    return " + ".join(f"{rule} {n}" for rule, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=5000)
    parser.add_argument("--shards", type=int, default=50)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--finished", type=Path, help="a finished run of tests/configs/tiny/config.yaml to rerun")
    args = parser.parse_args()

    rows: list[tuple[str, float, int, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench_dag_") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        configfile = large_sheet(tmp / "large", args.videos, args.shards, args.folds)
        print(f"wrote a {args.videos}-entry sheet in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        median, counts, times = timed(tmp / "large", configfile, args.repeat, "-n")
        total = sum(counts.values())
        rows.append((f"snakemake -n, {args.videos} videos, 10 models x {args.folds} folds x {args.shards} shards", median, total,
                     "<= 10 s, <= 2000 jobs", "ok" if median <= 10 and total <= 2000 else "MISSED"))  # fmt: skip
        print(f"large DAG jobs: {expected_jobs(counts)}; dry-run times {[round(t, 2) for t in times]}", file=sys.stderr)

        finished = args.finished
        if finished is None:
            finished = tmp / "tiny"
            finished.mkdir()
            seconds, _ = snakemake(finished, TINY, "--cores", "2")
            print(f"finished tiny run (tests/configs/tiny) in {seconds:.0f} s", file=sys.stderr)
        median, counts, times = timed(finished, TINY, args.repeat, "-n")
        total = sum(counts.values())
        rows.append(("no-op rerun, snakemake -n (tests/configs/tiny, finished)", median, total, "<= 5 s, 0 jobs",
                     "ok" if median <= 5 and total == 0 else "MISSED"))  # fmt: skip
        print(f"no-op -n times {[round(t, 2) for t in times]}", file=sys.stderr)
        median, counts, times = timed(finished, TINY, args.repeat, "--cores", "2")
        total = sum(counts.values())
        rows.append(("no-op rerun, snakemake --cores 2 (tests/configs/tiny, finished)", median, total, "<= 5 s, 0 jobs",
                     "ok" if median <= 5 and total == 0 else "MISSED"))  # fmt: skip
        print(f"no-op --cores 2 times {[round(t, 2) for t in times]}", file=sys.stderr)

    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'wall s':>7}  {'jobs':>5}  {'target':<22}  result")
    for name, seconds, jobs, target, verdict in rows:
        print(f"{name:<{width}}  {seconds:>7.2f}  {jobs:>5}  {target:<22}  {verdict}")


if __name__ == "__main__":
    main()
