"""Run the real Snakemake command line on the repository's Snakefile in a scratch directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

TINY = REPO / "tests" / "configs" / "tiny" / "config.yaml"


def snakemake_cmd(workdir: Path, *args: str, configfile: Path = TINY) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(configfile), *args,
    ]  # fmt: skip


def run_snakemake(workdir: Path, *args: str, configfile: Path = TINY, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(snakemake_cmd(workdir, *args, configfile=configfile), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table into {rule: count} (empty when nothing is scheduled)."""
    counts: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("Job stats:"):
            in_table = True
            continue
        if in_table:
            match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
            if match and match.group(1) != "total":
                counts[match.group(1)] = int(match.group(2))
            elif line.strip().startswith("total"):
                break
    return counts
