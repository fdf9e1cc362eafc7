"""Score one set of hyper-parameters: train on the search sample's folds, measure the held-out ones.

A trial goes through the same learner as the final training (:mod:`fvc.learners`: the same plan, fit and
aggregation) on a folds table made from the sample, so a searched parameter means exactly what it means in
the train rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fvc.data.recipe import ClipRecipe
from fvc.evaluate.metrics import binary_metrics
from fvc.learners import ClipSource, make_plan, new_learner
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
    recipe: ClipRecipe  # the clipset the model reads
    source: ClipSource = ClipSource()  # its feature table (held in memory for every trial) or clip shards
    threads: int = 1
    checkpoints: Path | None = None  # models trained by epochs: resumable per-trial checkpoints live below
    weights: WeightsConfig | None = None  # the published-weights cache (config `weights`)


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

    ``report`` gets the early-stopping value after each epoch of a model trained by epochs, else the running
    mean after each round, so a pruner can stop a poor trial early. ``checkpoint_key`` (a hash of the
    parameters) names the trial's checkpoint folder: a trial killed mid-training and re-run with the same
    parameters resumes from its last epoch.
    """
    plan = make_plan(data.name, params, data.recipe, seed=data.seed, weights=data.weights)
    values: list[float] = []
    for fold in range(rounds):
        learner = new_learner(plan)
        epochs = int(plan.params.get("epochs", 1) or 1)
        reporter = _EpochReporter(report, _EPOCH_METRIC.get(metric, "val_f1"), offset=fold * epochs, tracker=tracker)
        checkpoint = data.checkpoints / checkpoint_key / f"round_{fold}.pt" if data.checkpoints is not None else None
        fit = learner.fit(data.source, data.folds, fold, threads=data.threads, checkpoint=checkpoint, tracker=reporter, progress=False)
        videos = learner.aggregate(fit.predictions)
        value = binary_metrics(videos["label"].to_numpy(), videos["score"].to_numpy())[metric]
        values.append(value)
        log.info("  round %d: %s %.4f", fold, metric, value)
        if not learner.reports_epochs:
            report(fold, float(np.mean(values)))
    return float(np.mean(values))


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
