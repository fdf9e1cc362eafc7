"""Train one model on one fold and write its outputs, ``training_complete`` strictly last.

``training_complete`` is the marker Snakemake targets (`snakemake results/models/<m>/fold_<k>/training_complete`)
and the promise that the model file, predictions, history and metrics beside it are whole. Both kinds of
model (scikit-learn on feature tables, torch on clips) end in the same files, so evaluation never
branches on the model type.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

import fvc
from fvc.data.splits import heldout_family, train_val_ids
from fvc.evaluate.degenerate import fold_warnings
from fvc.evaluate.metrics import binary_metrics, video_level
from fvc.io.atomic import atomic_path, write_json, write_parquet
from fvc.models import get_spec
from fvc.models.hub import WeightsConfig
from fvc.track import TrackingConfig, flatten, tracking_run
from fvc.train.sklearn_fit import fit_fold

__all__ = ["load_torch_model", "train_fold", "train_fold_tracked"]

log = logging.getLogger(__name__)


def train_fold(
    name: str,
    params: dict[str, Any],
    *,
    folds_path: str | Path,
    fold: int,
    seed: int,
    out_dir: str | Path,
    features_path: str | Path | None = None,
    manifests: list[str | Path] | None = None,
    checkpoint: str | Path | None = None,
    clip_recipe: dict[str, Any] | None = None,
    threads: int = 1,
    tracker: Any | None = None,
    progress: bool = True,
    weights: WeightsConfig | None = None,
) -> dict[str, Any]:
    """Fit, predict, evaluate and persist one (model, fold); returns the metrics written to metrics.json.

    ``clip_recipe`` (the model's clipset: frames, size, scaling...) is stored with the model so that
    ``fvc predict`` decodes new videos exactly as training did.

    torch is imported only for torch models: a scikit-learn job should not pay for loading it.
    """
    spec = get_spec(name)
    out_dir = Path(out_dir)
    folds = pd.read_parquet(folds_path)
    extra: dict[str, Any] = {}
    clip_recipe = dict(clip_recipe or {})
    if spec.kind == "sklearn":
        if features_path is None:
            raise ValueError(f"model '{name}' reads features: features_path is required")
        fit = fit_fold(name, params, pd.read_parquet(features_path), folds, fold, seed, n_jobs=threads)
        predictions, threshold, history = fit.predictions, 0.5, None
        model_file = out_dir / "model.joblib"
        with atomic_path(model_file) as tmp:
            joblib.dump({"model": fit.model, "feature_names": fit.feature_names, "name": name, "params": params, "clip_recipe": clip_recipe}, tmp)
    else:
        if manifests is None or checkpoint is None:
            raise ValueError(f"model '{name}' reads clips: manifests and checkpoint are required")
        import torch

        from fvc.train.torch_fit import fit_torch_fold

        fit = fit_torch_fold(name, params, manifests=manifests, folds=folds, fold=fold, seed=seed, checkpoint=checkpoint,
                             clip_recipe=clip_recipe, threads=threads, tracker=tracker, progress=progress, weights=weights)  # fmt: skip
        predictions, threshold, history = fit.predictions, fit.threshold, fit.result.history
        extra = {"best_epoch": fit.result.best_epoch, "early_stopping": {"monitor": fit.monitor, "smoothed_value": fit.result.best_score},
                 "oom_backoffs": fit.result.backoffs,
                 "n_fit_videos": fit.n_fit_videos, "n_early_stopping_videos": fit.n_early_stopping_videos,
                 "pretrained_weights": fit.pretrained}  # fmt: skip
        model_file = out_dir / "model.pt"
        with atomic_path(model_file) as tmp:
            state = {k: v.detach().cpu() for k, v in fit.model.state_dict().items()}
            torch.save({"name": name, "kwargs": fit.kwargs, "state_dict": state, "default_cfg": fit.norm, "clip_recipe": clip_recipe}, tmp)

    videos = video_level(predictions)
    video_metrics = binary_metrics(videos["label"].to_numpy(), videos["score"].to_numpy())
    warnings = fold_warnings(videos["label"].to_numpy(), videos["score"].to_numpy(), roc_auc=video_metrics["roc_auc"], history=history)
    for warning in warnings:
        log.warning("fold %d: %s: %s", fold, name, warning)
    metrics = {
        "model": name,
        "fold": fold,
        "seed": seed,
        "params": params,
        "n_train_videos": len(train_val_ids(folds, fold)[0]),
        # leave_one_family_out: the manipulation this fold never trained on (its AUC is on an unseen family).
        "heldout_family": heldout_family(folds, fold),
        "n_val_videos": int(len(videos)),
        "threshold": 0.5,
        "clip": binary_metrics(predictions["label"].to_numpy(), predictions["score"].to_numpy()),
        "video": video_metrics,
        # The same videos at the threshold chosen on inner validation data (never on this fold).
        "val_threshold": threshold,
        "video_at_val_threshold": binary_metrics(videos["label"].to_numpy(), videos["score"].to_numpy(), threshold=threshold),
        **extra,
        # In words: a single predicted class, a training loss that never fell, a ROC-AUC below chance.
        "warnings": warnings,
        "fvc_version": fvc.__version__,
        "python": platform.python_version(),
    }
    write_parquet(out_dir / "predictions.parquet", predictions)
    if history is not None:
        with atomic_path(out_dir / "history.csv") as tmp:
            history.to_csv(tmp, index=False)
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "training_complete", {"model": name, "fold": fold, "video_f1": metrics["video"]["f1"]})
    log.info("fold %d: video-level %s", fold, {k: round(v, 4) for k, v in metrics["video"].items()})
    return metrics


def train_fold_tracked(name: str, params: dict[str, Any], *, tracking: TrackingConfig, store: str | Path, **kwargs: Any) -> dict[str, Any]:
    """:func:`train_fold` inside an MLflow run (local file store ``store`` unless ``tracking.uri`` is set)."""
    fold = kwargs["fold"]
    with tracking_run(tracking, store, f"{name}/fold_{fold}", {"model": name, "fold": str(fold)}) as tracker:
        if tracker is not None:
            tracker.log_params({"model": name, "fold": fold, "seed": kwargs.get("seed"), **params})
        metrics = train_fold(name, params, tracker=tracker, **kwargs)
        if tracker is not None:
            final = {k: v for k, v in flatten({"video": metrics["video"], "clip": metrics["clip"]}).items() if v == v}
            tracker.log_metrics(final, step=metrics.get("best_epoch", 0) if isinstance(metrics.get("best_epoch"), int) else 0)
            for artifact in ("metrics.json", "history.csv"):
                tracker.log_artifact(Path(kwargs["out_dir"]) / artifact)
    return metrics


def load_torch_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Rebuild a trained torch model from its ``model.pt`` (weights only: nothing is unpickled)."""
    import torch

    from fvc.models import create, get_spec

    saved = torch.load(path, map_location="cpu", weights_only=True)
    # A model saved before a parameter existed is rebuilt as it was then; the trained weights replace any initial ones.
    kwargs = {**get_spec(saved["name"]).legacy_params, **saved["kwargs"], "pretrained": False}
    model = create(saved["name"], **kwargs)
    try:
        model.load_state_dict(saved["state_dict"])
    except RuntimeError as err:  # torch's message lists tensors; say which file and which build they did not fit
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise ValueError(f"{path}: its weights do not fit '{saved['name']}' built with {saved['kwargs']} "
                         f"(missing parameters taken as {dict(get_spec(saved['name']).legacy_params)}): {first}") from err  # fmt: skip
    return model.eval(), saved
