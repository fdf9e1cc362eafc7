"""External test sets: every trained fold model scores videos from another corpus (the cross-dataset question).

A test set is indexed, decoded and featurised by the same stages as the training corpus (its own
``results/test/<name>/index``, ``clips`` and ``features``), so each model reads it exactly as it read its
training clips, and the clips and features are computed once for every model. Scoring one model writes, per
fold model and for their ensemble (mean P(fake) over the folds' models, per video)::

    results/test/<test_set>/<model>/fold_<k>/{predictions.parquet, metrics.json}
    results/test/<test_set>/<model>/ensemble/{predictions.parquet, metrics.json}

A test video whose file is byte for byte one of the training corpus's (same sha256) is not unseen: it is
scored, marked ``in_training`` and left out of the metrics, and ``metrics.json`` names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fvc.evaluate.metrics import METRIC_NAMES, binary_metrics, video_level
from fvc.io.atomic import write_json, write_parquet

__all__ = ["ENSEMBLE", "UnusableTestSet", "collect_test_metrics", "score_test_set", "summarise_test_sets"]

ENSEMBLE = "ensemble"


class UnusableTestSet(ValueError):
    """A test set that cannot be scored at all (empty, or no file of it readable)."""


def _clip_scores(fold_model: Any, videos: pd.DataFrame, *, manifests: Sequence[str | Path], features: str | Path | None) -> pd.DataFrame:
    """P(fake) of every untouched clip of ``videos``: video_id, copy, label, score."""
    labels = videos.set_index("video_id")["label"].eq("fake").astype(np.int64)
    if fold_model.kind == "sklearn":
        table = pd.read_parquet(features)
        table = table[table["video_id"].isin(labels.index) & (table["copy"] == 0)]
        x = table.reindex(columns=fold_model.feature_names).to_numpy(np.float64)
        fake = list(fold_model.model.classes_).index(1)
        scores = fold_model.model.predict_proba(x)[:, fake] if len(table) else np.empty(0)
        return pd.DataFrame({"video_id": table["video_id"].to_numpy(), "copy": 0, "label": table["video_id"].map(labels).to_numpy(),
                             "score": scores})  # fmt: skip
    from fvc.train.data import ClipDataset, clip_rows
    from fvc.train.engine import predict
    from fvc.train.torch_fit import input_layout

    rows = clip_rows(manifests, labels)
    rows = rows[rows["copy"] == 0]
    dataset = ClipDataset(rows, mean=fold_model.default_cfg["mean"], std=fold_model.default_cfg["std"], layout=input_layout(fold_model.name))
    scores, _ = predict(fold_model.model.eval(), dataset, batch_size=8) if len(rows) else (np.empty(0), None)
    return pd.DataFrame({"video_id": rows["video_id"].to_numpy(), "copy": 0, "label": rows["label"].to_numpy(), "score": scores})


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
    from fvc.inference import load_fold_models

    if videos.empty:
        raise UnusableTestSet(f"test set '{test_set}': no readable video (every file was rejected, or the set is empty: see its rejected.csv)")
    fold_models = load_fold_models(results, model)
    seen = set(training_videos["sha256"]) if "sha256" in training_videos.columns else set()
    in_training = videos.set_index("video_id")["sha256"].isin(seen) if "sha256" in videos.columns else pd.Series(False, index=videos["video_id"])
    families = videos.set_index("video_id")["family"] if "family" in videos.columns else None
    out_dir = Path(out_dir)
    per_fold = []
    thresholds = []
    written: dict[str, dict[str, Any]] = {}
    for fold_model in fold_models:
        # The decision threshold the fold chose on its inner validation videos (metrics.json beside the model).
        fold_metrics = Path(results) / "models" / model / f"fold_{fold_model.fold}" / "metrics.json"
        threshold = float(json.loads(fold_metrics.read_text(encoding="utf-8")).get("val_threshold", 0.5)) if fold_metrics.is_file() else 0.5
        thresholds.append(threshold)
        clips = _clip_scores(fold_model, videos, manifests=manifests, features=features).assign(fold=fold_model.fold)
        per_video = video_level(clips)
        per_fold.append(per_video)
        written[f"fold_{fold_model.fold}"] = _write_part(out_dir / f"fold_{fold_model.fold}", per_video, clips, model=model, test_set=test_set,
                                                         fold=fold_model.fold, in_training=in_training, families=families, rejected=rejected,
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
        "n_videos": int(len(unseen)),
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
        out[str(family)] = {"n": int(len(fakes)), "roc_auc": scores["roc_auc"], "recall": float((fakes["score"] >= 0.5).mean())}
    return out


def collect_test_metrics(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per (test set, model, fold or ensemble, level), plus per-family rows (level ``family:<name>``)."""
    rows = []
    for path in paths:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        base = {"test_set": record["test_set"], "model": record["model"], "fold": str(record["fold"]), "n_videos": record["n_videos"],
                "n_in_training": len(record["in_training"]), "n_rejected": len(record["rejected"])}  # fmt: skip
        for level in ("video", "clip"):
            if record.get(level):
                at_threshold = {}
                if level == "video" and record.get("video_at_val_threshold"):
                    at_threshold = {"accuracy_at_val_threshold": record["video_at_val_threshold"]["accuracy"],
                                    "f1_at_val_threshold": record["video_at_val_threshold"]["f1"]}  # fmt: skip
                rows.append({**base, "level": level, **{m: record[level][m] for m in METRIC_NAMES}, **at_threshold})
        for family, values in (record.get("families") or {}).items():
            rows.append({**base, "level": f"family:{family}", "n_videos": values["n"], "roc_auc": values["roc_auc"], "recall": values["recall"]})
    return pd.DataFrame(rows)


def summarise_test_sets(test_metrics: pd.DataFrame, cv_summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """``test_summary.csv``: one row per (test set, model, level), the fold models' mean ± std and the ensemble's
    value of each metric, and beside them the model's in-domain cross-validation ROC-AUC."""
    if test_metrics.empty:
        return pd.DataFrame()
    metrics = [m for m in (*METRIC_NAMES, "accuracy_at_val_threshold", "f1_at_val_threshold") if m in test_metrics.columns]
    folds = test_metrics[test_metrics["fold"] != ENSEMBLE]
    ensemble = test_metrics[test_metrics["fold"] == ENSEMBLE].set_index(["test_set", "model", "level"])
    grouped = folds.groupby(["test_set", "model", "level"], sort=True)
    table = pd.concat(
        [grouped.size().rename("folds"), grouped["n_videos"].max(), grouped["n_in_training"].max(), grouped["n_rejected"].max(),
         grouped[metrics].mean().add_suffix("_mean"), grouped[metrics].std(ddof=1).add_suffix("_std"),
         ensemble[metrics].add_suffix("_ensemble").reindex(grouped.size().index)],
        axis=1,
    )  # fmt: skip
    table = table.dropna(axis=1, how="all").reset_index()
    if cv_summary is not None and "roc_auc_mean" in cv_summary.columns:
        table["cv_roc_auc_mean"] = table["model"].map(cv_summary.set_index("model")["roc_auc_mean"])
    level_order = {"video": 0, "clip": 1}
    table["_order"] = table["level"].map(level_order).fillna(2)
    return table.sort_values(["test_set", "_order", "level", "model"], kind="stable").drop(columns="_order").round(6).reset_index(drop=True)
