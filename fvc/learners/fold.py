"""Train one model on one fold and write its outputs, ``training_complete`` strictly last.

``training_complete`` is the marker Snakemake targets (`snakemake results/models/<m>/fold_<k>/training_complete`)
and the promise that the model file, predictions, history and metrics beside it are whole. Every kind of model
ends in the same files (its learner names its own model file), so nothing downstream branches on the kind::

    predictions.parquet        the held-out fold's clips: video_id, copy, fold, label, score
    video_predictions.parquet  the same videos' aggregated scores: video_id, label, score, fold
    metrics.json               clip- and video-level metrics, the learner's own entries, the model file's name
    history.csv                per-epoch history (models trained by epochs)
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path
from typing import Any

import pandas as pd

import fvc
from fvc.data.splits import heldout_family, train_val_ids
from fvc.evaluate.degenerate import fold_warnings
from fvc.evaluate.metrics import binary_metrics
from fvc.io.atomic import atomic_path, write_json, write_parquet
from fvc.learners.base import ClipSource
from fvc.learners.kinds import new_learner
from fvc.learners.plan import ModelPlan
from fvc.track import TrackingConfig, flatten, tracking_run

__all__ = ["VIDEO_PREDICTIONS", "train_fold", "train_fold_tracked"]

log = logging.getLogger(__name__)

VIDEO_PREDICTIONS = "video_predictions.parquet"


def train_fold(
    plan: ModelPlan,
    source: ClipSource,
    *,
    folds_path: str | Path,
    fold: int,
    out_dir: str | Path,
    checkpoint: str | Path | None = None,
    threads: int = 1,
    tracker: Any | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fit, predict, evaluate and persist one (model, fold); returns the metrics written to metrics.json.

    The plan's clip recipe is stored with the model, so ``fvc predict`` decodes new videos exactly as
    training did.
    """
    name, out_dir = plan.name, Path(out_dir)
    folds = pd.read_parquet(folds_path)
    learner = new_learner(plan)
    fit = learner.fit(source, folds, fold, threads=threads, checkpoint=checkpoint, tracker=tracker, progress=progress)
    model_file = learner.save(out_dir)
    predictions, threshold, history = fit.predictions, fit.threshold, fit.history

    videos = learner.aggregate(predictions)
    video_metrics = binary_metrics(videos["label"].to_numpy(), videos["score"].to_numpy())
    warnings = fold_warnings(videos["label"].to_numpy(), videos["score"].to_numpy(), roc_auc=video_metrics["roc_auc"], history=history)
    for warning in warnings:
        log.warning("fold %d: %s: %s", fold, name, warning)
    metrics = {
        "model": name,
        "fold": fold,
        "seed": plan.seed,
        "params": dict(plan.params),
        "n_train_videos": len(train_val_ids(folds, fold)[0]),
        # leave_one_family_out: the manipulation this fold never trained on (its AUC is on an unseen family).
        "heldout_family": heldout_family(folds, fold),
        "n_val_videos": len(videos),
        "threshold": 0.5,
        "clip": binary_metrics(predictions["label"].to_numpy(), predictions["score"].to_numpy()),
        "video": video_metrics,
        # The same videos at the threshold chosen on inner validation data (never on this fold).
        "val_threshold": threshold,
        "video_at_val_threshold": binary_metrics(videos["label"].to_numpy(), videos["score"].to_numpy(), threshold=threshold),
        **fit.metrics,
        # In words: a single predicted class, a training loss that never fell, a ROC-AUC below chance.
        "warnings": warnings,
        # How clip scores became video scores, and where the model is (the registry reads it from here).
        "aggregation": plan.aggregation,
        "model_file": model_file.name,
        "fvc_version": fvc.__version__,
        "python": platform.python_version(),
    }
    write_parquet(out_dir / "predictions.parquet", predictions)
    write_parquet(out_dir / VIDEO_PREDICTIONS, videos)
    if history is not None:
        with atomic_path(out_dir / "history.csv") as tmp:
            history.to_csv(tmp, index=False)
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "training_complete", {"model": name, "fold": fold, "video_f1": metrics["video"]["f1"]})
    log.info("fold %d: video-level %s", fold, {k: round(v, 4) for k, v in metrics["video"].items()})
    return metrics


def train_fold_tracked(plan: ModelPlan, source: ClipSource, *, tracking: TrackingConfig, store: str | Path, **kwargs: Any) -> dict[str, Any]:
    """:func:`train_fold` inside an MLflow run (local file store ``store`` unless ``tracking.uri`` is set)."""
    name, fold = plan.name, kwargs["fold"]
    with tracking_run(tracking, store, f"{name}/fold_{fold}", {"model": name, "fold": str(fold)}) as tracker:
        if tracker is not None:
            tracker.log_params({"model": name, "fold": fold, "seed": plan.seed, **plan.params})
        metrics = train_fold(plan, source, tracker=tracker, **kwargs)
        if tracker is not None:
            final = {k: v for k, v in flatten({"video": metrics["video"], "clip": metrics["clip"]}).items() if v == v}
            tracker.log_metrics(final, step=metrics.get("best_epoch", 0) if isinstance(metrics.get("best_epoch"), int) else 0)
            for artifact in ("metrics.json", "history.csv"):
                tracker.log_artifact(Path(kwargs["out_dir"]) / artifact)
    return metrics
