"""Logging for workflow scripts: everything (including warnings and tqdm) goes to the job's log file."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["log_to_file"]


def log_to_file(path: str | os.PathLike[str], level: int = logging.INFO) -> None:
    """Send the root logger and stderr to ``path``, so a failed job's log says why it failed.

    Called first thing by each ``scripts/`` entry point (Snakemake's ``log:`` file).
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    stream = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives for the whole job
    sys.stderr = stream
    logging.basicConfig(
        level=level,
        stream=stream,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
