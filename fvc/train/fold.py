"""Train one model on one fold and write its outputs, ``training_complete`` strictly last.

``training_complete`` is the marker Snakemake targets (`snakemake results/models/<m>/fold_<k>/training_complete`)
and the promise that the model file, predictions and metrics beside it are whole.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

import fvc
from fvc.evaluate.metrics import binary_metrics, video_level
from fvc.io.atomic import atomic_path, write_json, write_parquet
from fvc.models import get_spec
from fvc.train.sklearn_fit import fit_fold

__all__ = ["train_fold"]

log = logging.getLogger(__name__)


def train_fold(
    name: str,
    params: dict[str, Any],
    *,
    features_path: str | Path,
    folds_path: str | Path,
    fold: int,
    seed: int,
    out_dir: str | Path,
    threads: int = 1,
) -> dict[str, Any]:
    """Fit, predict, evaluate and persist one (model, fold); returns the metrics written to metrics.json."""
    spec = get_spec(name)
    if spec.kind != "sklearn":
        raise NotImplementedError(f"model '{name}' is a {spec.kind} model; only sklearn models train in this version")
    out_dir = Path(out_dir)
    features = pd.read_parquet(features_path)
    folds = pd.read_parquet(folds_path)
    fit = fit_fold(name, params, features, folds, fold, seed, n_jobs=threads)

    videos = video_level(fit.predictions)
    metrics = {
        "model": name,
        "fold": fold,
        "seed": seed,
        "params": params,
        "n_train_videos": int((folds["fold"] != fold).sum()),
        "n_val_videos": int(len(videos)),
        "threshold": 0.5,
        "clip": binary_metrics(fit.predictions["label"].to_numpy(), fit.predictions["score"].to_numpy()),
        "video": binary_metrics(videos["label"].to_numpy(), videos["score"].to_numpy()),
        "fvc_version": fvc.__version__,
        "python": platform.python_version(),
    }
    with atomic_path(out_dir / "model.joblib") as tmp:
        joblib.dump({"model": fit.model, "feature_names": fit.feature_names, "name": name, "params": params}, tmp)
    write_parquet(out_dir / "predictions.parquet", fit.predictions)
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "training_complete", {"model": name, "fold": fold, "video_f1": metrics["video"]["f1"]})
    log.info("fold %d: video-level %s", fold, {k: round(v, 4) for k, v in metrics["video"].items()})
    return metrics
