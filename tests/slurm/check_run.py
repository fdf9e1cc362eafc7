"""Check a finished `tests/slurm/run.sh` workflow run: every rule went through sbatch into its partition.

Evidence, all from the scratch folder run.sh leaves:

- ``jobcomp.log``: slurmctld's record of every finished SLURM job (``JobCompType=jobcomp/filetxt``): id,
  state, partition;
- ``snakemake.log``: the submitting Snakemake's output: each job's rule and wildcards (``jobid: N``), then
  ``Job N has been submitted with SLURM jobid S (log: ...)``, the failure of the cancelled job and its retry;
- ``run/.snakemake/slurm_logs/group_<G>_<rules>/<slurm id>.log``: the plugin's log of a group job (kept with
  ``--slurm-keep-successful-logs``), which names each member (``rule clips:`` + wildcards);
- ``squeue.txt``: ``squeue --states=all`` at the end of the run (id, partition, state, the plugin's comment
  ``rule_<rule>_wildcards_<values>``), a second record of each job's partition;
- ``cancelled_job``: the job run.sh cancelled with scancel while it was running; its resubmission must ask
  for attempt x its time limit (``TimeLimit`` in jobcomp.log).

Expected partition: ``gpu`` for a training job whose model's registry spec needs a GPU (the test overrides the
GPU count to 0, which must not change the routing), ``cpu`` for every other job. Exit status 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import yaml

# Every rule of the workflow but `all` (a local rule): each must have run inside some SLURM job.
RULES = {
    "synth", "index", "split", "clips", "features", "merge_features", "train",
    "compare", "paired", "plots", "registry", "rejected",
}  # fmt: skip
TRAIN_RULES = {"train"}


def parse_jobcomp(path: Path) -> dict[str, dict[str, str]]:
    jobs = {}
    for line in path.read_text().splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if "JobId" in fields:
            jobs[fields["JobId"]] = fields
    return jobs


def parse_squeue(path: Path) -> dict[str, dict[str, str]]:
    jobs = {}
    if path.exists():
        for line in path.read_text().splitlines():
            job_id, partition, state, comment = line.split("|", 3)
            jobs[job_id] = {"Partition": partition, "JobState": state, "Comment": comment}
    return jobs


def parse_job_blocks(text: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Snakemake job id -> (rule, wildcards), from the job blocks Snakemake prints before running a job."""
    jobs: dict[str, tuple[str, dict[str, str]]] = {}
    current: tuple[str, dict[str, str]] | None = None
    for line in text.splitlines():
        if match := re.match(r"^\s*rule (\w+):$", line):
            current = (match.group(1), {})
        elif not line.startswith(" "):  # e.g. "Error in rule ...:", whose block repeats the job id
            current = None
        elif current is not None and (match := re.match(r"^\s+jobid: (\d+)$", line)):
            jobs.setdefault(match.group(1), current)
        elif current is not None and (match := re.match(r"^\s+wildcards: (.*)$", line)):
            current[1].update(_wildcards(match.group(1)))
    return jobs


def parse_group_members(log: Path) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of each member a group job ran: its log's "rule <name>:" blocks (srun'd members
    print "localrule")."""
    members = []
    current = None
    for line in log.read_text(errors="replace").splitlines():
        if match := re.match(r"^rule (\w+):$", line):
            current = (match.group(1), {})
            members.append(current)
        elif current is not None and (match := re.match(r"^\s+wildcards: (.*)$", line)):
            current[1].update(_wildcards(match.group(1)))
        elif not line.startswith(" "):
            current = None
    return members


def minutes(limit: str | None) -> int | None:
    """A job's time limit as jobcomp.log records it (minutes, or [D-]HH:MM:SS) in minutes; None if absent."""
    if not limit:
        return None
    if limit.isdigit():
        return int(limit)
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")] if all(p.isdigit() for p in clock.split(":")) else None
    if not parts or (days and not days.isdigit()):
        return None
    hours, mins, secs = ([0] * (3 - len(parts)) + parts)[-3:]
    return (int(days or 0) * 24 + hours) * 60 + mins + (secs > 0)


def _wildcards(text: str) -> dict[str, str]:
    return dict(part.strip().split("=", 1) for part in text.split(","))


def registry_facts(models: list[str]) -> tuple[set[str], dict[str, str]]:
    """The models whose spec needs a GPU, and each model's training rule (one `train` rule for every kind)."""
    from fvc.models import get_spec

    return {m for m in models if get_spec(m).needs_gpu}, {m: "train" for m in models}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args()
    scratch = args.scratch
    config = yaml.safe_load(args.config.read_text())
    models, folds = config["models"], config["split"]["folds"]
    gpu, train_rule = registry_facts(models)
    problems: list[str] = []

    sm_log = (scratch / "snakemake.log").read_text(errors="replace")
    submitted = re.findall(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", sm_log)
    job_blocks = parse_job_blocks(sm_log)
    jobcomp = parse_jobcomp(scratch / "jobcomp.log")
    squeue = parse_squeue(scratch / "squeue.txt")
    if not submitted:
        problems.append("snakemake.log shows no sbatch submission")
    if "steps (100%) done" not in sm_log:
        problems.append("snakemake.log does not show the workflow completing (100%)")

    # Each submitted SLURM job: its partition, final state and the rule jobs it ran.
    seen: dict[tuple[str, tuple], list[tuple[str, str, str]]] = defaultdict(list)
    grouped = 0
    print(f"{'slurm id':>8}  {'partition':9}  {'state':10}  {'asked for':24}  rule jobs")
    for sm_id, slurm_id, log_path in submitted:
        log = Path(log_path)
        record = jobcomp.get(slurm_id, {})
        partition, state = record.get("Partition", "?"), record.get("JobState", "?")
        if slurm_id in squeue and squeue[slurm_id]["Partition"] != partition:
            problems.append(f"SLURM job {slurm_id}: squeue says partition {squeue[slurm_id]['Partition']}, jobcomp {partition}")
        tres = dict(item.split("=", 1) for item in record.get("Tres", "").split(",") if "=" in item)
        asked = f"cpu={tres.get('cpu', '?')} mem={tres.get('mem', '?')} t={record.get('TimeLimit', '?')}m"
        if sm_id.isdigit():  # one rule job
            members = [job_blocks[sm_id]] if sm_id in job_blocks else []
        else:  # a group job, named by its group id
            members = parse_group_members(log) if log.exists() else []
        if not members:
            problems.append(f"SLURM job {slurm_id}: cannot tell which rule jobs it ran (log {log})")
        for rule, wildcards in members:
            seen[(rule, tuple(sorted(wildcards.items())))].append((slurm_id, partition, state))
            want = "gpu" if rule in TRAIN_RULES and wildcards.get("model") in gpu else "cpu"
            if partition != want:
                problems.append(f"{rule} {wildcards} ran in partition '{partition}' (SLURM job {slurm_id}), expected '{want}'")
        label = ", ".join(f"{r}[{','.join(w.values())}]" if w else r for r, w in members) or "?"
        print(f"{slurm_id:>8}  {partition:9}  {state:10}  {asked:24}  {label}")
        if len(members) > 1:
            grouped += 1

    ran_rules = {rule for rule, _ in seen}
    if not grouped:
        problems.append("no SLURM job ran more than one rule job: the profile's groups did not apply")
    if missing := RULES - ran_rules:
        problems.append(f"rules that never ran through sbatch: {sorted(missing)}")
    for model in models:
        rule = train_rule[model]
        for fold in range(folds):
            key = (rule, tuple(sorted({"model": model, "fold": str(fold)}.items())))
            states = [state for _, _, state in seen.get(key, [])]
            if "COMPLETED" not in states:
                problems.append(f"{rule} {model} fold {fold}: no completed SLURM job (states {states})")

    print("\npartition per rule (SLURM jobs that completed):")
    per_rule: dict[str, set[str]] = defaultdict(set)
    for (rule, wildcards), runs in seen.items():
        model = dict(wildcards).get("model")
        name = f"{rule}[{model}]" if model else rule
        per_rule[name] |= {partition for _, partition, state in runs if state == "COMPLETED"}
    for name in sorted(per_rule):
        print(f"  {name:40} -> {', '.join(sorted(per_rule[name])) or '-'}")

    # The job run.sh cancelled: CANCELLED in SLURM, then submitted again by Snakemake and COMPLETED.
    cancelled_file = scratch / "cancelled_job"
    if not cancelled_file.exists():
        problems.append("no training job was cancelled (watcher saw no running transfer job)")
    else:
        cancelled_id, comment = cancelled_file.read_text().split()
        runs = next((runs for runs in seen.values() if any(r[0] == cancelled_id for r in runs)), [])
        print(f"\nscancel: SLURM job {cancelled_id} ({comment}) -> submissions of that rule job:")
        for slurm_id, partition, state in runs:
            print(f"  SLURM job {slurm_id}: partition {partition}, {state}")
        if jobcomp.get(cancelled_id, {}).get("JobState") != "CANCELLED":
            problems.append(f"cancelled job {cancelled_id} is not CANCELLED in jobcomp.log")
        if len(runs) < 2 or runs[-1][2] != "COMPLETED" or runs[-1][0] == cancelled_id:
            problems.append(f"cancelled job {cancelled_id} was not resubmitted and completed: {runs}")
        else:
            # The resubmission is Snakemake's retry: the job's command line carries `--attempt 2`.
            retry_log = next(Path(p) for _, i, p in submitted if i == runs[-1][0])
            attempt = re.search(r"--attempt (\d+)", retry_log.read_text(errors="replace")) if retry_log.exists() else None
            print(f"  SLURM job {runs[-1][0]} ran Snakemake with --attempt {attempt.group(1) if attempt else '?'}")
            if not attempt or attempt.group(1) == "1":
                problems.append(f"resubmitted job {runs[-1][0]} is not a retry attempt (--attempt > 1)")
            else:
                # A retry asks for more time (attempt x the registry's runtime; memory is pinned by run.sh's
                # --set-resources here, see tests/slurm/test_sbatch_calls.py for both).
                first, retry = (minutes(jobcomp.get(i, {}).get("TimeLimit")) for i in (cancelled_id, runs[-1][0]))
                print(f"  time limit: {first} min (attempt 1) -> {retry} min (attempt {attempt.group(1)})")
                if first is None or retry is None or retry != first * int(attempt.group(1)):
                    problems.append(f"resubmitted job {runs[-1][0]}: time limit {retry} min is not attempt "
                                    f"{attempt.group(1)} x the first submission's {first} min")  # fmt: skip
        patterns = [rf"SLURM-job '{cancelled_id}' failed", r"^Trying to restart job", r"^Error in rule"]
        patterns += [rf"submitted with SLURM jobid {slurm_id} " for slurm_id, _, _ in runs]
        for line in sm_log.splitlines():
            if any(re.search(pattern, line.strip()) for pattern in patterns):
                print(f"  snakemake: {line.strip()}")

    results = scratch / "run" / "results"
    for output in ["compare/summary.csv", "compare/paired.csv", "registry.json", "rejected.csv"]:
        if not (results / output).exists():
            problems.append(f"missing workflow output results/{output}")

    if problems:
        print("\nSLURM CHECK FAILED:", *problems, sep="\n  - ")
        return 1
    print(f"\nSLURM check passed: {len(seen)} rule jobs in {len(submitted)} sbatch submissions ({grouped} group jobs), "
          "each in its partition; the cancelled job was retried and completed")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
