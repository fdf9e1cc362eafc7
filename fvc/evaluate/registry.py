"""``registry.json``: which model file came from which code, configuration and fold, and how well it did.

A trained model is only reusable if one can tell later what produced it. Each entry therefore pins the
model file to the configuration (a hash of its canonical JSON, so two runs can be checked for "same
settings" without diffing YAML) and the code (package version and git commit).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import fvc
from fvc.io.atomic import write_json

__all__ = ["build_registry", "code_version", "config_hash", "git_commit", "model_file", "provenance_config", "write_registry"]

# Settings that say where results are logged or how jobs are scheduled, not what a model is: they are
# left out of the config hash (and of the registry rule's params, so changing them reruns nothing).
NON_PROVENANCE_KEYS = ("tracking", "cluster", "weights")


def provenance_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` without the settings that do not change a model: tracking, cluster, the weights cache's
    location, hpo study storage (which weights a model started from is in its own metrics: their sha256)."""
    kept = {k: v for k, v in config.items() if k not in NON_PROVENANCE_KEYS}
    if kept.get("hpo"):
        kept["hpo"] = {model: {k: v for k, v in (search or {}).items() if k != "storage"} for model, search in kept["hpo"].items()}
    return kept


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the config's canonical JSON: keys sorted, no whitespace, so YAML layout does not matter."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def git_commit(path: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the checkout holding ``path`` (default: the fvc package), or None.

    None when git is missing or the package was installed from a wheel rather than a checkout.
    """
    where = Path(path) if path is not None else Path(fvc.__file__).resolve().parent
    try:
        command = ["git", "-C", str(where), "rev-parse", "HEAD"]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and len(commit) == 40 else None


def code_version() -> dict[str, str | None]:
    """The running fvc's version and, when it runs from a git checkout, its commit."""
    return {"fvc": fvc.__version__, "git_commit": git_commit()}


def model_file(metrics_path: str | Path, record: Mapping[str, Any]) -> str | None:
    """The fold's model file as its learner named it in ``metrics.json`` (``model_file``), or None.

    The learner is the one place that knows a kind's file format (fvc.learners); the registry takes its
    word rather than guessing from the folder. None when the record names no file or the file is gone.
    """
    name = record.get("model_file")
    if not name:
        return None
    path = Path(metrics_path).parent / str(name)
    return path.as_posix() if path.is_file() else None


def build_registry(
    metrics_paths: Iterable[str | Path],
    config: Mapping[str, Any],
    *,
    code: Mapping[str, str | None] | None = None,
) -> list[dict[str, Any]]:
    """One entry per model x fold (each fold's ``metrics.json`` and the model file beside it), sorted.

    Paths are recorded as given (relative to the workflow's directory when Snakemake passes them).
    """
    digest = config_hash(config)
    code = dict(code) if code is not None else code_version()
    entries = []
    for path in metrics_paths:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        entries.append({
            "model": record["model"],
            "fold": int(record["fold"]),
            "model_path": model_file(path, record),
            "metrics": record["video"],
            "warnings": list(record.get("warnings") or ()),
            "params": record.get("params", {}),
            "pretrained_weights": record.get("pretrained_weights"),
            "config_hash": digest,
            "code_version": code,
        })  # fmt: skip
    return sorted(entries, key=lambda e: (e["model"], e["fold"]))


def write_registry(path: str | Path, metrics_paths: Iterable[str | Path], config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Build the registry and write it atomically as a JSON list (``read_json`` in DuckDB reads it as a table)."""
    entries = build_registry(metrics_paths, config)
    write_json(path, entries)
    return entries


def _plain(obj: Any) -> Any:
    # Snakemake hands over its config as plain dicts, but a caller may pass paths or numpy scalars.
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)
