"""Train a torch model on one fold (data from the clip shards, the engine, predictions on the held-out fold), and rebuild one."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import f1_score

from fvc.data.recipe import ClipRecipe
from fvc.data.splits import fold_rows, inner_validation
from fvc.fingerprint import fingerprint as make_fingerprint
from fvc.learners.plan import ModelPlan, recipe_dict
from fvc.models import create, get_spec
from fvc.models.hub import PretrainedError, WeightsConfig, published_for, sha256_file
from fvc.models.registry import is_pretrained, model_kwargs
from fvc.models.weights import resolve_pretrained
from fvc.train.config import TrainConfig
from fvc.train.data import ClipDataset, clip_rows
from fvc.train.engine import Tracker, TrainResult, predict, train

__all__ = ["TorchFit", "best_threshold", "fit_torch_fold", "input_layout", "input_norm", "load_torch_model", "plan_torch", "train_config"]

log = logging.getLogger(__name__)


@dataclass
class TorchFit:
    model: torch.nn.Module
    predictions: pd.DataFrame  # video_id, copy, fold, label, score
    result: TrainResult
    threshold: float  # chosen on the inner validation videos
    n_fit_videos: int
    n_early_stopping_videos: int
    kwargs: dict[str, Any]  # what the builder was called with: rebuilding the model needs exactly these
    monitor: str = "val_loss"
    norm: dict[str, Any] = dataclasses.field(default_factory=dict)  # the clips' mean and std: prediction uses the same
    pretrained: dict[str, Any] | None = None  # the weights it started from: tag, source, file, sha256


def input_norm(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The mean and std clips are normalised with: the published weights' own when the model starts from them
    (timm's pretrained_cfg of the chosen backbone, torchvision's or PyTorchVideo's Kinetics statistics), else
    the registry's."""
    default = dict(get_spec(name).default_cfg)
    if is_pretrained(kwargs.get("pretrained")):
        try:
            return {**default, **published_for(name, kwargs).norm}
        except PretrainedError:  # a file of weights with no published counterpart: the registry's statistics
            pass
    return {"mean": default.get("mean", (0.5,) * 3), "std": default.get("std", (0.5,) * 3), **default}


def input_layout(name: str) -> str:
    """``frames`` models take (B, T, C, H, W); ``clip`` (3D) models take (B, C, T, H, W)."""
    return "clip" if get_spec(name).input == "clip" else "frames"


def plan_torch(name: str, params: Mapping[str, Any], recipe: ClipRecipe, *, seed: int, weights: WeightsConfig | None = None) -> ModelPlan:
    """The plan of a torch model: builder kwargs with the weights file resolved, normalisation, layout, engine settings.

    ``weights``: the published-weights cache (config ``weights``) a ``pretrained: true`` model reads. Published
    weights are found (or fail, with the pull command) here, before any data is read or epoch run; the builder
    then reads the file.
    """
    params = dict(params)
    kwargs = model_kwargs(name, params, recipe_dict(recipe))
    path, cached = resolve_pretrained(name, kwargs.get("pretrained"), kwargs, weights or WeightsConfig.from_config(None))
    norm = input_norm(name, kwargs)
    origin = None
    if path is not None:
        kwargs = {**kwargs, "pretrained": str(path)}
        origin = cached.provenance() if cached is not None else {"tag": None, "source": str(path), "file": str(path), "sha256": sha256_file(path)}
    return ModelPlan(get_spec(name), params, recipe, seed, kwargs=kwargs, train=train_config(params, seed=seed), norm=norm,
                     layout=input_layout(name), pretrained=origin)  # fmt: skip


def fit_torch_fold(
    plan: ModelPlan,
    *,
    manifests: list[str | Path],
    folds: pd.DataFrame,
    fold: int,
    checkpoint: str | Path,
    threads: int = 1,
    tracker: Tracker | None = None,
    progress: bool = True,
    stop_after_epoch: int | None = None,
) -> TorchFit:
    """Train ``plan``'s model on every fold but ``fold`` (early stopping on inner-validation videos), score ``fold``."""
    torch.set_num_threads(max(1, threads))
    if torch.cuda.is_available():
        # Deterministic kernels matter on GPUs; CPU kernels already are. The call imports torch's compiler
        # (torch._inductor) only to set a flag for it, seconds of start-up for a job that would not load it
        # otherwise (naive_cnn, variable_ar_cnn), so CPU jobs skip it.
        torch.use_deterministic_algorithms(True, warn_only=True)
    name, params, seed, kwargs, norm = plan.name, plan.params, plan.seed, dict(plan.kwargs), plan.norm
    labels = folds.set_index("video_id")["label"].eq("fake").astype(np.int64)
    rows = clip_rows(manifests, labels)
    train_rows, heldout_rows = fold_rows(rows, folds, fold)
    fit_ids, stop_ids = inner_validation(folds, fold, float(params.get("inner_val_fraction", 0.2)), seed)
    fit_rows = train_rows[train_rows["video_id"].isin(fit_ids)]
    stop_rows = train_rows[train_rows["video_id"].isin(stop_ids) & (train_rows["copy"] == 0)]
    datasets = [ClipDataset(r, mean=norm["mean"], std=norm["std"], layout=plan.layout) for r in (fit_rows, stop_rows, heldout_rows)]

    cfg = plan.train
    torch.manual_seed(seed)  # model initialisation
    model = create(name, **kwargs)
    # What the checkpoint was trained on, not only which videos: clip ids stay the same when a clipset's frames,
    # size, scaling or augmentation change, and resuming then would continue a model trained on other clips.
    clips = {"recipe": recipe_dict(plan.recipe), "manifests": sorted(hashlib.sha256(Path(m).read_bytes()).hexdigest() for m in manifests),
             "weights": plan.pretrained["sha256"] if plan.pretrained is not None else None}  # fmt: skip
    fp = make_fingerprint(name, kwargs, {k: str(v) for k, v in sorted(vars(cfg).items())}, fit_rows["clip_id"].tolist(), stop_rows["clip_id"].tolist(),
                          clips)  # fmt: skip
    log.info("fold %d: %s on %d clips (%d videos), early stopping on %d, held-out %d",
             fold, name, len(fit_rows), len(fit_ids), len(stop_rows), len(heldout_rows))  # fmt: skip
    result = train(model, datasets[0], datasets[1], cfg, checkpoint=checkpoint, fingerprint=fp, tracker=tracker,
                   progress=progress, stop_after_epoch=stop_after_epoch)  # fmt: skip
    stop_probs, _ = predict(model, datasets[1], batch_size=result.plan.batch_size)
    threshold = best_threshold(datasets[1].labels, stop_probs)
    scores, _ = predict(model, datasets[2], batch_size=result.plan.batch_size)
    predictions = pd.DataFrame({"video_id": heldout_rows["video_id"].to_numpy(), "copy": heldout_rows["copy"].to_numpy(),
                                "fold": fold, "label": heldout_rows["label"].to_numpy(), "score": scores})  # fmt: skip
    return TorchFit(model, predictions, result, threshold, len(fit_ids), len(stop_ids), kwargs, cfg.monitor, dict(norm), plan.pretrained)


def train_config(params: Mapping[str, Any], **overrides: Any) -> TrainConfig:
    """The engine settings a model's params ask for, as every torch fit (fold, search, sanity test) uses them."""
    cfg = TrainConfig.from_params(params, **overrides)
    if cfg.backbone_lr is not None and not is_pretrained(params.get("pretrained")):
        # A backbone_lr below lr protects pretrained features; a randomly initialised backbone has none to
        # protect and would only learn more slowly.
        log.info("backbone is not pretrained: it trains at lr=%g, not backbone_lr=%g", cfg.lr, cfg.backbone_lr)
        cfg = dataclasses.replace(cfg, backbone_lr=None)
    if cfg.freeze_bn_below and not is_pretrained(params.get("pretrained")):
        # Frozen statistics are a pretrained network's; a random one's are only its initial 0 and 1.
        cfg = dataclasses.replace(cfg, freeze_bn_below=0)
    return cfg


def best_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold maximising F1 on (inner validation) data; 0.5 when it cannot be chosen."""
    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return 0.5
    candidates = np.unique(np.concatenate([scores, [0.5]]))
    f1 = [f1_score(labels, scores >= c, zero_division=0) for c in candidates]
    return float(candidates[int(np.argmax(f1))])


def load_torch_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Rebuild a trained torch model from its ``model.pt`` (weights only: nothing is unpickled)."""
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
