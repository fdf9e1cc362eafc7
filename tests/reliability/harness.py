"""Fault injection for real Snakemake runs of the workflow.

A :class:`Background` run is the real ``snakemake`` command line (``tests.workflow.runner.snakemake_cmd``) in
its own session, so its whole process tree (Snakemake and every job it started) can be paused with SIGSTOP,
inspected, and SIGKILLed at once. :func:`parse_jobs` reads which jobs a run started and finished from its
output; :func:`compare_results` lists every result file that differs from an uninterrupted reference run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil

from tests.conftest import REPO
from tests.workflow.runner import run_snakemake, snakemake_cmd

RELIABILITY = REPO / "tests" / "configs" / "reliability" / "config.yaml"

# history.csv columns that measure the machine, not the training (wall time, data wait, peak memory).
TIMING_COLUMNS = ["seconds", "data_seconds", "peak_memory_mb"]


@dataclass(frozen=True, order=True)
class Job:
    """A job's identity across Snakemake invocations (job ids are per invocation): its rule and outputs."""

    rule: str
    output: str

    def __str__(self) -> str:
        first = self.output.split(", ")[0]
        return f"{self.rule}({first}{', ...' if ', ' in self.output else ''})" if self.output else self.rule


@dataclass
class JobLog:
    started: dict[int, Job]
    finished: set[int]

    @property
    def finished_jobs(self) -> set[Job]:
        return {self.started[i] for i in self.finished if i in self.started}

    @property
    def in_flight(self) -> list[Job]:
        return sorted(job for i, job in self.started.items() if i not in self.finished)


_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_FINISHED = re.compile(r"^Finished jobid: (\d+)")


def parse_jobs(output: str) -> JobLog:
    """Jobs a (real, not dry) Snakemake run started, by job id, and the ids it reported finished."""
    started: dict[int, Job] = {}
    finished: set[int] = set()
    rule: str | None = None
    outputs = ""
    for line in output.splitlines():
        if match := _RULE.match(line):
            rule, outputs = match.group(1), ""
            continue
        if rule is not None and line.startswith((" ", "\t")):
            text = line.strip()
            if text.startswith("output:"):
                outputs = text.removeprefix("output:").strip()
            elif text.startswith("jobid:"):
                started[int(text.removeprefix("jobid:").strip())] = Job(rule, outputs)
            continue
        rule = None
        if match := _FINISHED.match(line):
            finished.add(int(match.group(1)))
    return JobLog(started, finished)


class Background:
    """``snakemake <args>`` started in its own session; output to ``log``."""

    def __init__(self, workdir: Path, *args: str, log: Path, configfile: Path = RELIABILITY) -> None:
        self.log = log
        with open(log, "w", encoding="utf-8") as handle:
            self.proc = subprocess.Popen(snakemake_cmd(workdir, *args, configfile=configfile), stdout=handle,
                                         stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def running(self) -> bool:
        return self.proc.poll() is None

    def pause(self) -> None:
        """SIGSTOP the whole tree: what it has written is exactly what a SIGKILL at this moment would leave."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL Snakemake and every job process it started (its process group, plus any descendant)."""
        try:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        self._signal_group(signal.SIGKILL)
        for child in descendants:
            try:
                child.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        self.proc.wait()

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running():
            self.kill()


def unlock(workdir: Path, configfile: Path = RELIABILITY) -> None:
    run_snakemake(workdir, "--unlock", configfile=configfile)


def finish(workdir: Path, configfile: Path = RELIABILITY) -> str:
    """Run to completion with ``--rerun-incomplete``; return the output."""
    proc = run_snakemake(workdir, "--cores", "2", "--rerun-incomplete", configfile=configfile)
    return proc.stdout + proc.stderr


def compare_results(run: Path, ref: Path, *, ignore_manifest_columns: tuple[str, ...] = ()) -> list[str]:
    """Every result of ``run`` that differs from ``ref`` (empty list: identical).

    Byte-identical: summary.csv, paired.csv, folds.parquet, every feature table and feature shard, every clip
    array, both rejection lists. Equal as data: every predictions.parquet, compare/metrics.parquet, the
    index (minus its absolute ``file`` column), every clip manifest. Equal as JSON: every metrics.json,
    training_complete and registry.json. history.csv: equal minus its timing columns.
    """
    a, b = run / "results", ref / "results"
    problems: list[str] = []

    def exists(rel: str) -> bool:
        if not (a / rel).is_file():
            problems.append(f"{rel}: missing")
            return False
        return True

    def same_bytes(rel: str) -> None:
        if exists(rel) and (a / rel).read_bytes() != (b / rel).read_bytes():
            problems.append(f"{rel}: bytes differ")

    def same_frame(rel: str, drop: tuple[str, ...] = (), reader=pd.read_parquet) -> None:
        if not exists(rel):
            return
        left, right = reader(a / rel), reader(b / rel)
        left, right = left.drop(columns=[c for c in drop if c in left]), right.drop(columns=[c for c in drop if c in right])
        try:
            pd.testing.assert_frame_equal(left, right, check_exact=True)
        except AssertionError as exc:
            problems.append(f"{rel}: differs ({str(exc).splitlines()[0]} ...)")

    def same_json(rel: str) -> None:
        if exists(rel) and json.loads((a / rel).read_text()) != json.loads((b / rel).read_text()):
            problems.append(f"{rel}: JSON differs")

    def same_set(pattern: str) -> list[str]:
        mine = {p.relative_to(a).as_posix() for p in a.glob(pattern) if not p.name.startswith(".")}
        theirs = {p.relative_to(b).as_posix() for p in b.glob(pattern) if not p.name.startswith(".")}
        if mine != theirs:
            problems.append(f"{pattern}: missing {sorted(theirs - mine)}, extra {sorted(mine - theirs)}")
        return sorted(theirs & mine)

    for rel in ("compare/summary.csv", "compare/paired.csv", "splits/folds.parquet", "rejected.csv", "index/rejected.csv"):
        same_bytes(rel)
    same_frame("index/videos.parquet", drop=("file",))  # absolute paths differ between working directories
    same_frame("compare/metrics.parquet")
    same_json("registry.json")
    for rel in same_set("features/*.parquet") + same_set("features/*/shard_*.parquet"):
        same_bytes(rel)
    for rel in same_set("clips/*/shard_*/*.npy"):
        same_bytes(rel)
    for rel in same_set("clips/*/shard_*/manifest.parquet"):
        same_frame(rel, drop=ignore_manifest_columns)
    folds = same_set("models/*/fold_*")
    if not folds:
        problems.append("no models/*/fold_* in the reference")
    for fold_dir in folds:
        same_frame(f"{fold_dir}/predictions.parquet")
        same_json(f"{fold_dir}/metrics.json")
        same_json(f"{fold_dir}/training_complete")
        if (b / fold_dir / "history.csv").exists():
            same_frame(f"{fold_dir}/history.csv", drop=tuple(TIMING_COLUMNS), reader=pd.read_csv)
    return problems


def manifest_differences(run: Path, ref: Path) -> dict[str, list[str]]:
    """Per clip manifest of ``run``, the columns whose values differ from ``ref``'s (only those that differ)."""
    out: dict[str, list[str]] = {}
    for path in sorted((ref / "results").glob("clips/*/shard_*/manifest.parquet")):
        rel = path.relative_to(ref / "results")
        mine = run / "results" / rel
        if not mine.exists():
            continue
        left, right = pd.read_parquet(mine), pd.read_parquet(path)
        columns = [c for c in right.columns if c in left and left[c].astype(str).tolist() != right[c].astype(str).tolist()]
        if columns:
            out[rel.as_posix()] = columns
    return out
