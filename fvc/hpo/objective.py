"""Score one set of hyper-parameters: train on the search sample's folds, measure the held-out ones.

A trial goes through the same code as the final training (``fit_fold`` for scikit-learn models,
``fit_torch_fold`` and the training engine for torch models) on a folds table made from the sample, so a
searched parameter means exactly what it means in the train rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fvc.evaluate.metrics import binary_metrics, video_level
from fvc.models import get_spec
from fvc.models.hub import WeightsConfig

__all__ = ["SearchData", "evaluate_params"]

log = logging.getLogger(__name__)

# The engine's per-epoch validation value that stands in for ``metric`` while a torch trial trains (pruning).
_EPOCH_METRIC = {"roc_auc": "val_auc", "average_precision": "val_auc"}

Report = Callable[[int, float], None]  # (step, value); raises optuna.TrialPruned to stop the trial


@dataclass
class SearchData:
    """What every trial of one model's search reads."""

    name: str
    folds: pd.DataFrame  # the sample's videos with their search folds (video_id, group, label, fold)
    seed: int
    features: pd.DataFrame | None = None  # scikit-learn models
    manifests: list[str] = field(default_factory=list)  # torch models
    clip_recipe: dict[str, Any] = field(default_factory=dict)
    threads: int = 1
    checkpoints: Path | None = None  # torch models: resumable per-trial checkpoints live below
    weights: WeightsConfig | None = None  # torch models: the published-weights cache (config `weights`)

    @property
    def kind(self) -> str:
        return get_spec(self.name).kind


def evaluate_params(
    data: SearchData,
    params: Mapping[str, Any],
    *,
    rounds: int,
    metric: str,
    report: Report,
    checkpoint_key: str,
    tracker: Any | None = None,
) -> float:
    """Mean held-out ``metric`` (video level) over the first ``rounds`` search folds.

    ``report`` gets the running mean after each round (scikit-learn) or the early-stopping value after each
    epoch (torch), so a pruner can stop a poor trial early. ``checkpoint_key`` (a hash of the parameters) names
    the trial's checkpoint folder: a trial killed mid-training and re-run with the same parameters resumes
    from its last epoch.
    """
    values: list[float] = []
    for fold in range(rounds):
        if data.kind == "sklearn":
            predictions = _sklearn_round(data, dict(params), fold)
        else:
            predictions = _torch_round(data, dict(params), fold, metric, report, checkpoint_key, tracker)
        videos = video_level(predictions)
        value = binary_metrics(videos["label"].to_numpy(), videos["score"].to_numpy())[metric]
        values.append(value)
        log.info("  round %d: %s %.4f", fold, metric, value)
        if data.kind == "sklearn":
            report(fold, float(np.mean(values)))
    return float(np.mean(values))


def _sklearn_round(data: SearchData, params: dict[str, Any], fold: int) -> pd.DataFrame:
    from fvc.train.sklearn_fit import fit_fold

    if data.features is None:
        raise ValueError(f"model '{data.name}' reads features: the search needs its feature table")
    return fit_fold(data.name, params, data.features, data.folds, fold, data.seed, n_jobs=data.threads).predictions


def _torch_round(data: SearchData, params: dict[str, Any], fold: int, metric: str, report: Report, key: str, tracker: Any) -> pd.DataFrame:
    from fvc.train.torch_fit import fit_torch_fold

    if data.checkpoints is None or not data.manifests:
        raise ValueError(f"model '{data.name}' reads clips: the search needs clip manifests and a checkpoint folder")
    epochs = int(params.get("epochs", 1) or 1)
    epoch_reporter = _EpochReporter(report, _EPOCH_METRIC.get(metric, "val_f1"), offset=fold * epochs, tracker=tracker)
    fit = fit_torch_fold(
        data.name, params, manifests=data.manifests, folds=data.folds, fold=fold, seed=data.seed,
        checkpoint=data.checkpoints / key / f"round_{fold}.pt", clip_recipe=data.clip_recipe,
        threads=data.threads, tracker=epoch_reporter, progress=False, weights=data.weights,
    )  # fmt: skip
    return fit.predictions


class _EpochReporter:
    """The engine's tracker: forwards epoch metrics to MLflow and the epoch's validation value to the pruner."""

    def __init__(self, report: Report, key: str, *, offset: int, tracker: Any | None) -> None:
        self.report, self.key, self.offset, self.tracker = report, key, offset, tracker

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        if self.tracker is not None:
            self.tracker.log_metrics(metrics, step=self.offset + step)
        value = metrics.get(self.key)
        if value is not None and value == value:
            self.report(self.offset + step, float(value))
