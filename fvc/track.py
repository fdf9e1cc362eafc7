"""Experiment tracking with MLflow: one run per (model, fold) with params, per-epoch metrics and artifacts.

By default runs go to a local file store in the results folder (``<results>/mlruns``; browse it with
``mlflow ui --backend-store-uri <results>/mlruns``); ``tracking.uri`` points at a server or database
instead, and ``tracking.enabled: false`` turns tracking off. MLflow 3 keeps its file store in maintenance
mode behind an opt-in, which fvc gives for local ``file:`` URIs only: a file store per results folder is
what lets parallel Snakemake jobs log without sharing a database lock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MlflowTracker", "TrackingConfig", "flatten", "tracking_run"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackingConfig:
    """Config key ``tracking``."""

    enabled: bool = True
    uri: str | None = None  # default: file store at <results>/mlruns
    experiment: str = "fvc"

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> TrackingConfig:
        return cls(**dict(values or {}))

    def resolved_uri(self, store: str | os.PathLike[str]) -> str:
        """``uri`` when set, else the local file store folder ``store`` as a ``file:`` URI."""
        return self.uri or Path(store).resolve().as_uri()


class MlflowTracker:
    """Logs into the active MLflow run; the engine calls :meth:`log_metrics` once per epoch."""

    def __init__(self, mlflow: Any) -> None:
        self._mlflow = mlflow

    def log_params(self, params: Mapping[str, Any]) -> None:
        flat = flatten(params)
        # MLflow caps one call at 100 params and each value at 6000 characters.
        items = [(k, str(v)[:6000]) for k, v in flat.items()]
        for start in range(0, len(items), 100):
            self._mlflow.log_params(dict(items[start : start + 100]))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def log_artifact(self, path: str | os.PathLike[str]) -> None:
        if Path(path).exists():
            self._mlflow.log_artifact(str(path))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._mlflow.set_tags(dict(tags))


@contextmanager
def tracking_run(
    cfg: TrackingConfig, store: str | os.PathLike[str], run_name: str, tags: Mapping[str, str] | None = None, *, nested: bool = False
) -> Iterator[MlflowTracker | None]:
    """An MLflow run for the block, or None when tracking is off; tracking failures never fail training.

    ``nested`` makes it a child of the active run (a search's trials under the search's run).
    """
    if not cfg.enabled:
        yield None
        return
    uri = cfg.resolved_uri(store)
    if uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow

    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(cfg.experiment)
        run = mlflow.start_run(run_name=run_name, tags=dict(tags or {}), nested=nested)
    except Exception as exc:  # an unreachable server must not cost a training run
        log.warning("MLflow tracking disabled for %s: %s", run_name, exc)
        yield None
        return
    try:
        yield MlflowTracker(mlflow)
        mlflow.end_run(status="FINISHED")
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys (``{"video": {"f1": 1}}`` -> ``{"video.f1": 1}``)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
