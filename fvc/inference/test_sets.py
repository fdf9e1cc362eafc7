"""External test sets scored by every trained fold model, and by their ensemble (the cross-dataset question).

A test set is indexed, decoded and featurised by the same stages as the training corpus (its own
``results/test/<name>/index``, ``clips`` and ``features``), so each model reads it exactly as it read its
training clips. Scoring one model writes, per fold model and for their ensemble (mean P(fake) over the folds'
models, per video)::

    results/test/<test_set>/<model>/fold_<k>/{predictions.parquet, metrics.json}
    results/test/<test_set>/<model>/ensemble/{predictions.parquet, metrics.json}

A test video whose file is byte for byte one of the training corpus's (same sha256) is not unseen: it is
scored, marked ``in_training`` and left out of the metrics, and ``metrics.json`` names it. Gathering the
metrics into ``test_summary.csv`` is :mod:`fvc.evaluate.test_sets`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fvc.evaluate.metrics import METRIC_NAMES, binary_metrics
from fvc.evaluate.test_sets import ENSEMBLE
from fvc.io.atomic import write_json, write_parquet
from fvc.learners import ClipSource, load_fold_learners

__all__ = ["UnusableTestSet", "score_test_set"]


class UnusableTestSet(ValueError):
    """A test set that cannot be scored at all (empty, or no file of it readable)."""


def score_test_set(
    results: str | Path,
    model: str,
    test_set: str,
    videos: pd.DataFrame,
    *,
    training_videos: pd.DataFrame,
    out_dir: str | Path,
    manifests: Sequence[str | Path] = (),
    features: str | Path | None = None,
    rejected: pd.DataFrame | None = None,
) -> dict[str, dict[str, Any]]:
    """Score test set ``videos`` (its index) with every fold of ``model``; write and return each part's metrics.

    ``rejected``: the test set's rejected files (index and clips stages), listed in every metrics.json.
    """
    if videos.empty:
        raise UnusableTestSet(f"test set '{test_set}': no readable video (every file was rejected, or the set is empty: see its rejected.csv)")
    fold_learners = load_fold_learners(results, model)
    seen = set(training_videos["sha256"]) if "sha256" in training_videos.columns else set()
    in_training = videos.set_index("video_id")["sha256"].isin(seen) if "sha256" in videos.columns else pd.Series(False, index=videos["video_id"])
    families = videos.set_index("video_id")["family"] if "family" in videos.columns else None
    out_dir = Path(out_dir)
    per_fold = []
    thresholds = []
    written: dict[str, dict[str, Any]] = {}
    labels = videos.set_index("video_id")["label"].eq("fake").astype(np.int64)
    source = ClipSource(manifests=manifests, features=pd.read_parquet(features) if features is not None else None)
    for fold, learner in fold_learners:
        # The decision threshold the fold chose on its inner validation videos (metrics.json beside the model).
        fold_metrics = Path(results) / "models" / model / f"fold_{fold}" / "metrics.json"
        threshold = float(json.loads(fold_metrics.read_text(encoding="utf-8")).get("val_threshold", 0.5)) if fold_metrics.is_file() else 0.5
        thresholds.append(threshold)
        clips = learner.score_clips(source, labels).assign(fold=fold)
        per_video = learner.aggregate(clips)
        per_fold.append(per_video)
        written[f"fold_{fold}"] = _write_part(out_dir / f"fold_{fold}", per_video, clips, model=model, test_set=test_set,
                                              fold=fold, in_training=in_training, families=families, rejected=rejected,
                                                         threshold=threshold)  # fmt: skip
    if not per_fold or all(p.empty for p in per_fold):
        raise UnusableTestSet(f"test set '{test_set}': no clip of any video could be scored by '{model}' (see its rejected.csv)")
    pooled = pd.concat(per_fold, ignore_index=True)
    ensemble = pooled.groupby("video_id", sort=True).agg(label=("label", "first"), score=("score", "mean"), n_folds=("fold", "size")).reset_index()
    written[ENSEMBLE] = _write_part(out_dir / ENSEMBLE, ensemble.assign(fold=-1), None, model=model, test_set=test_set, fold=ENSEMBLE,
                                    in_training=in_training, families=families, rejected=rejected,
                                    threshold=float(np.mean(thresholds)))  # fmt: skip
    return written


def _write_part(folder: Path, per_video: pd.DataFrame, clips: pd.DataFrame | None, *, model: str, test_set: str, fold: int | str,
                in_training: pd.Series, families: pd.Series | None, rejected: pd.DataFrame | None, threshold: float = 0.5) -> dict[str, Any]:  # fmt: skip
    per_video = per_video.copy()
    per_video["in_training"] = per_video["video_id"].map(in_training).fillna(False).astype(bool)
    if families is not None:
        per_video["family"] = per_video["video_id"].map(families)
    unseen = per_video[~per_video["in_training"]]
    metrics = {
        "model": model,
        "test_set": test_set,
        "fold": fold,
        "n_videos": len(unseen),
        # Every video also in training: nothing unseen to measure, and the table says so (n_in_training).
        "video": binary_metrics(unseen["label"].to_numpy(), unseen["score"].to_numpy()) if len(unseen) else dict.fromkeys(METRIC_NAMES, float("nan")),
        "clip": _clip_metrics(clips, in_training=in_training),
        # The same videos at the threshold chosen on inner-validation videos in training (the ensemble: their mean),
        # as a deployed detector would decide; ROC-AUC and AP do not depend on it.
        "val_threshold": threshold,
        "video_at_val_threshold": binary_metrics(unseen["label"].to_numpy(), unseen["score"].to_numpy(), threshold=threshold)
        if len(unseen) else dict.fromkeys(METRIC_NAMES, float("nan")),
        "families": _family_metrics(unseen) if families is not None else {},
        # Byte-identical to a training video: scored, but not evidence of generalisation.
        "in_training": sorted(per_video.loc[per_video["in_training"], "video_id"]),
        "rejected": [] if rejected is None else [f"{p}: {r}" for p, r in zip(rejected["path"], rejected["reason"], strict=True)],
    }
    write_parquet(folder / "predictions.parquet", per_video)
    write_json(folder / "metrics.json", metrics)
    return metrics


def _clip_metrics(clips: pd.DataFrame | None, *, in_training: pd.Series) -> dict[str, float] | None:
    """Clip-level metrics over the clips of unseen videos (None for the ensemble, which has no clips of its own)."""
    if clips is None:
        return None
    clips = clips[~clips["video_id"].map(in_training).fillna(False).astype(bool)]
    return binary_metrics(clips["label"].to_numpy(), clips["score"].to_numpy()) if len(clips) else dict.fromkeys(METRIC_NAMES, float("nan"))


def _family_metrics(videos: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per manipulation family: its fakes against every real video of the set (AUC), and its recall at 0.5."""
    reals = videos[videos["label"] == 0]
    out = {}
    for family, fakes in videos[videos["label"] == 1].groupby("family", sort=True):
        both = pd.concat([reals, fakes])
        scores = binary_metrics(both["label"].to_numpy(), both["score"].to_numpy())
        out[str(family)] = {"n": len(fakes), "roc_auc": scores["roc_auc"], "recall": float((fakes["score"] >= 0.5).mean())}
    return out
