"""The sbatch command lines `--profile profiles/slurm` produces, without a SLURM cluster or a GPU.

`tests/slurm/run.sh` runs the workflow on a real one-node cluster, but that cluster has no GPU, so it sets
`gpu=0` and never shows the GPU request. Here a stand-in `sbatch` (first on PATH) records each command line
snakemake-executor-plugin-slurm builds and refuses the submission; Snakemake counts that as a failed job and
retries it (`retries: 2` in the profile), so one run shows attempts 1, 2 and 3 of each job:

- a training job of a model whose registry entry needs a GPU (`transfer`) asks for it (`--gpus=1`) in the
  GPU partition, and one of a CPU model (`naive_cnn`) asks for none in the CPU partition;
- each retry asks for more memory and time (`--mem`, `-t`): the registry's values for training, the profile's
  defaults for other rules (`merge_features`), times the attempt.

Only the rules under test run (`--allowed-rules`); their inputs are empty placeholder files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

CONFIG = REPO / "tests" / "slurm" / "config.yaml"
TARGETS = {
    "rule_train_wildcards_transfer_0": "results/models/transfer/fold_0/training_complete",
    "rule_train_wildcards_naive_cnn_0": "results/models/naive_cnn/fold_0/training_complete",
    "rule_merge_features_wildcards_forensic": "results/features/forensic.parquet",
}
PLACEHOLDERS = [
    "results/splits/folds.parquet", "results/index/videos.parquet",
    "results/clips/frames/shard_0/manifest.parquet", "results/clips/frames/shard_1/manifest.parquet",
    "results/features/forensic/shard_0.parquet", "results/features/forensic/shard_1.parquet",
]  # fmt: skip
STAND_IN = '''#!{python}
import json, os, sys
with open(os.environ["FVC_FAKE_SBATCH_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
sys.exit("sbatch: error: stand-in sbatch of fvc tests/slurm: nothing is submitted")
'''


def _options(argv: list[str]) -> dict[str, str]:
    """sbatch's options as {name: value} ("-p gpu", "--mem 8000", "--gpus=1"); the wrapped command as "wrap"."""
    options: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            options[name] = value
        elif arg.startswith("-"):
            options[arg] = next(args, "")
    return options


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> dict[tuple[str, int], dict[str, str]]:
    """{(the job's comment, attempt): sbatch options} of every submission of one profile run."""
    scratch = tmp_path_factory.mktemp("sbatch")
    bin_dir, workdir, log = scratch / "bin", scratch / "run", scratch / "sbatch_calls.jsonl"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(STAND_IN.format(python=sys.executable))
    for tool in ("squeue", "sacct", "sacctmgr", "sshare", "scontrol", "sinfo", "scancel"):  # answer nothing
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    for name in PLACEHOLDERS:
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env |= {"PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "FVC_FAKE_SBATCH_LOG": str(log),
            "FVC_CPU_PARTITION": "cpu-test", "FVC_GPU_PARTITION": "gpu-test", "FVC_SLURM_ACCOUNT": "lab-test"}  # fmt: skip
    cmd = [sys.executable, "-m", "snakemake", "--profile", str(REPO / "profiles" / "slurm"), "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(CONFIG), "--allowed-rules", "train", "merge_features",
           "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1", *TARGETS.values()]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "stand-in sbatch" in output, output[-3000:]  # every submission was refused
    calls: dict[tuple[str, int], dict[str, str]] = {}
    for line in log.read_text().splitlines():
        options = _options(json.loads(line))
        attempt = int(options["--wrap"].split("--attempt ", 1)[1].split()[0])
        calls[options["--comment"], attempt] = options
    assert {comment for comment, _ in calls} == set(TARGETS), sorted(calls)
    return calls


def test_a_gpu_model_training_job_asks_slurm_for_a_gpu_in_the_gpu_partition(submissions):
    transfer = submissions["rule_train_wildcards_transfer_0", 1]
    assert transfer["--gpus"] == "1"  # the plugin's translation of the rule's `gpu` resource
    assert transfer["-p"] == "gpu-test" and transfer["-A"] == "lab-test"
    assert transfer["--cpus-per-task"] == "1"
    cpu_model = submissions["rule_train_wildcards_naive_cnn_0", 1]
    assert "--gpus" not in cpu_model and "--gres" not in cpu_model and cpu_model["-p"] == "cpu-test"
    assert "--gpus" not in submissions["rule_merge_features_wildcards_forensic", 1]


@pytest.mark.parametrize(
    ("comment", "mem_mb", "minutes"),
    [
        ("rule_train_wildcards_transfer_0", 8000, 120),  # fvc.models registry: Resources(mem_mb=8000, runtime=120)
        ("rule_train_wildcards_naive_cnn_0", 4000, 60),
        ("rule_merge_features_wildcards_forensic", 2000, 60),  # profiles/slurm default-resources
    ],
)
def test_each_retry_asks_for_more_memory_and_time(submissions, comment, mem_mb, minutes):
    asked = [(submissions[comment, attempt]["--mem"], submissions[comment, attempt]["-t"]) for attempt in (1, 2, 3)]
    assert asked == [(str(mem_mb * n), str(minutes * n)) for n in (1, 2, 3)]
    assert (comment, 4) not in submissions  # retries: 2
    assert submissions[comment, 3].get("--gpus") == submissions[comment, 1].get("--gpus")  # the GPU count stays
