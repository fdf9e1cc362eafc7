"""One finished run of the tiny configuration, shared by every workflow test that only reads it or dry-runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workflow.runner import run_snakemake


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A real ``snakemake --cores 2`` of tests/configs/tiny; users must not change its files or metadata."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    run_snakemake(workdir, "--cores", "2")
    return workdir
