"""The one training loop for every torch model.

AdamW with a separate learning rate for the pretrainable ``backbone``; linear warm-up then cosine decay,
stepped per optimizer update; automatic mixed precision on CUDA (bf16 where supported, else fp16 with a
gradient scaler; off on CPU); gradient accumulation and clipping; class-weighted cross-entropy; early
stopping on the smoothed validation loss after a minimum number of epochs; a checkpoint after every epoch and exact resumption from it; halving the batch
(and doubling accumulation) on CUDA out-of-memory; per-epoch history with data-loading time and peak
memory; optional experiment tracking.

Reproducibility on CPU: the shuffle order and every random draw of an epoch derive from (seed, epoch),
and the checkpoint restores all generator states, so "train 4 epochs" and "train 2, get killed, resume"
end with identical weights.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import f1_score, roc_auc_score
from torch import nn
from tqdm import tqdm

from fvc.train.checkpoint import load_checkpoint, restore_rng, rng_state, save_checkpoint
from fvc.train.config import MONITORS, TrainConfig
from fvc.train.data import ClipDataset, make_loader
from fvc.train.oom import BatchPlan, free_memory, is_out_of_memory

__all__ = [
    "HISTORY_COLUMNS", "Tracker", "TrainConfig", "TrainResult", "amp_dtype_for", "freeze_backbone_batchnorm", "make_criterion",
    "make_optimizer", "make_scaler", "predict", "recompute_batchnorm", "train", "train_epoch",
]  # fmt: skip

log = logging.getLogger(__name__)

HISTORY_COLUMNS = [
    "epoch", "lr", "backbone_lr", "train_loss", "val_loss", "val_f1", "val_auc", "monitored", "batch_size", "accumulate",
    "seconds", "data_seconds", "peak_memory_mb",
]  # fmt: skip
class Tracker(Protocol):
    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...


@dataclass
class TrainResult:
    history: pd.DataFrame
    best_epoch: int
    best_score: float  # the smoothed monitored value at best_epoch
    backoffs: list[str] = field(default_factory=list)
    plan: BatchPlan | None = None
    resumed_from: int | None = None


def train(
    model: nn.Module,
    train_set: ClipDataset,
    val_set: ClipDataset,
    cfg: TrainConfig,
    *,
    checkpoint: str | Path,
    fingerprint: str = "",
    tracker: Tracker | None = None,
    progress: bool = True,
    stop_after_epoch: int | None = None,
) -> TrainResult:
    """Train ``model`` in place and leave the best epoch's weights in it.

    ``checkpoint`` is written after every epoch and resumed from when present and its fingerprint matches.
    ``stop_after_epoch`` ends the run after that epoch as if the job had been killed there (for tests).
    """
    device = _device(cfg.device)
    model.to(device)
    plan = BatchPlan(cfg.batch_size, cfg.accumulate)
    steps_per_epoch = math.ceil(math.ceil(len(train_set) / plan.batch_size) / plan.accumulate)
    optimizer = make_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(cfg, steps_per_epoch))
    amp_dtype = amp_dtype_for(device, cfg.amp)
    scaler = make_scaler(amp_dtype)
    criterion = make_criterion(train_set.labels, cfg, device)

    state = {"epoch": -1, "best_score": -math.inf, "best_epoch": -1, "bad_epochs": 0, "smoothed": None, "history": [], "best_state": None}
    resumed = load_checkpoint(checkpoint, fingerprint)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        scaler.load_state_dict(resumed["scaler"])
        plan = BatchPlan(resumed["batch_size"], resumed["accumulate"])
        restore_rng(resumed["rng"])
        state.update({k: resumed[k] for k in _STATE_KEYS})
        log.info("resumed from %s after epoch %d", checkpoint, state["epoch"])
    else:
        _save(checkpoint, model, optimizer, scheduler, scaler, plan, state, fingerprint)  # the epoch -1 state OOM retries return to
    resumed_from = state["epoch"] if resumed is not None else None
    backoffs: list[str] = []

    epoch = state["epoch"] + 1
    while epoch < cfg.epochs and (epoch <= cfg.first_candidate_epoch or state["bad_epochs"] < cfg.patience):
        _seed_epoch(cfg.seed, epoch)
        if hasattr(model, "on_epoch_start"):
            model.on_epoch_start(epoch)
        started = time.perf_counter()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        try:
            train_loss, data_seconds = _train_epoch(model, train_set, plan, cfg, epoch, optimizer, scheduler, scaler, criterion, amp_dtype, device, progress)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            # Back to the state at the start of this epoch, with half the batch and twice the accumulation.
            free_memory()
            new_plan = plan.halved()
            message = f"epoch {epoch}: out of memory at batch size {plan.batch_size}; retrying with {new_plan.batch_size} x {new_plan.accumulate} accumulation"
            log.warning(message)
            backoffs.append(message)
            snapshot = load_checkpoint(checkpoint, fingerprint)
            model.load_state_dict(snapshot["model"])
            optimizer.load_state_dict(snapshot["optimizer"])
            scheduler.load_state_dict(snapshot["scheduler"])
            scaler.load_state_dict(snapshot["scaler"])
            plan = new_plan
            continue
        if cfg.precise_bn_batches > 0:
            recompute_batchnorm(model, train_set, batch_size=plan.batch_size, batches=cfg.precise_bn_batches, seed=cfg.seed, epoch=epoch,
                                device=device, amp_dtype=amp_dtype, freeze_bn_below=cfg.freeze_bn_below)  # fmt: skip
        probs, val_loss = predict(model, val_set, batch_size=plan.batch_size, device=device, amp_dtype=amp_dtype, criterion=criterion)
        val_f1, val_auc = _f1_auc(val_set.labels, probs)
        value = {"val_loss": val_loss, "val_auc": val_auc, "val_f1": val_f1}[cfg.monitor]
        if value == value:  # NaN (a one-class validation set has no AUC) leaves the average as it was
            previous = state["smoothed"]
            state["smoothed"] = value if previous is None else cfg.smoothing * previous + (1.0 - cfg.smoothing) * value
        monitored = state["smoothed"] if state["smoothed"] is not None else float("nan")
        row = {
            "epoch": epoch, "lr": optimizer.param_groups[-1]["lr"], "backbone_lr": optimizer.param_groups[0]["lr"],
            "train_loss": train_loss, "val_loss": val_loss, "val_f1": val_f1, "val_auc": val_auc, "monitored": monitored,
            "batch_size": plan.batch_size, "accumulate": plan.accumulate, "seconds": time.perf_counter() - started,
            "data_seconds": data_seconds, "peak_memory_mb": _peak_memory_mb(device),
        }  # fmt: skip
        state["history"].append(row)
        if tracker is not None:
            tracker.log_metrics({k: float(v) for k, v in row.items() if k != "epoch" and v == v}, step=epoch)
        score = MONITORS[cfg.monitor] * monitored if monitored == monitored else -math.inf
        if epoch < cfg.first_candidate_epoch:
            pass
        elif score > state["best_score"] or state["best_state"] is None:
            state.update(best_score=score, best_epoch=epoch, bad_epochs=0, best_state=_cpu_state(model))
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        log.info("epoch %d: train loss %.4f, val loss %.4f, val F1 %.3f, AUC %.3f, %s (smoothed) %.4f (%.1fs, data %.1fs)",
                 epoch, train_loss, val_loss, val_f1, val_auc, cfg.monitor, monitored, row["seconds"], data_seconds)  # fmt: skip
        _save(checkpoint, model, optimizer, scheduler, scaler, plan, state, fingerprint)
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            break
        epoch += 1

    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    history = pd.DataFrame(state["history"], columns=HISTORY_COLUMNS)
    best_score = MONITORS[cfg.monitor] * state["best_score"] if state["best_epoch"] >= 0 else float("nan")
    return TrainResult(history, state["best_epoch"], best_score, backoffs, plan, resumed_from)


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: ClipDataset,
    *,
    batch_size: int = 8,
    device: torch.device | str | None = None,
    amp_dtype: torch.dtype | None = None,
    criterion: nn.Module | None = None,
) -> tuple[np.ndarray, float]:
    """P(fake) for every sample of ``dataset`` in its order, and the mean loss when ``criterion`` is given."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    probs = np.zeros(len(dataset), dtype=np.float64)
    total, count = 0.0, 0
    loader = make_loader(dataset, batch_size, shuffle=False, seed=0)
    batches = iter(loader.batch_sampler)
    for (clips, labels), indices in zip(loader, batches, strict=True):
        clips, labels = clips.to(device), labels.to(device)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(clips)
        logits = logits.float()
        probs[indices] = torch.softmax(logits, dim=1)[:, 1].cpu().numpy()
        if criterion is not None:
            total += float(criterion(logits, labels)) * len(labels)
            count += len(labels)
    return probs, (total / count if count else float("nan"))


@torch.no_grad()
def recompute_batchnorm(
    model: nn.Module,
    dataset: ClipDataset,
    *,
    batch_size: int,
    batches: int,
    seed: int = 0,
    epoch: int = 0,
    device: torch.device | str | None = None,
    amp_dtype: torch.dtype | None = None,
    freeze_bn_below: int = 0,
) -> int:
    """Replace the running statistics of every training BatchNorm by their average over ``batches`` batches.

    BatchNorm layers the model keeps in eval mode while training (frozen pretrained stages, a backbone frozen
    by ``freeze_bn_below``) keep theirs. Returns the number of layers recomputed.
    """
    model.train()
    freeze_backbone_batchnorm(model, batch_size, freeze_bn_below)
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats]
    if not layers or len(dataset) == 0:
        return 0
    device = torch.device(device) if device is not None else next(model.parameters()).device
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    loader = make_loader(dataset, batch_size, shuffle=True, seed=seed + 1)
    loader.batch_sampler.set_epoch(epoch)
    for step, (clips, _) in enumerate(loader):
        if step >= batches:
            break
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            model(clips.to(device))
    for m, momentum in zip(layers, momenta, strict=True):
        m.momentum = momentum
    return len(layers)


def freeze_backbone_batchnorm(model: nn.Module, batch_size: int, below: int) -> bool:
    """Put the BatchNorm layers of ``model.backbone`` in eval mode when ``batch_size < below``; whether it did."""
    if batch_size >= below:
        return False
    backbone = getattr(model, "backbone", None)
    for m in (backbone if isinstance(backbone, nn.Module) else model).modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    return True


def _train_epoch(model, dataset, plan, cfg, epoch, optimizer, scheduler, scaler, criterion, amp_dtype, device, progress) -> tuple[float, float]:
    loader = make_loader(dataset, plan.batch_size, shuffle=True, seed=cfg.seed, num_workers=cfg.num_workers)
    loader.batch_sampler.set_epoch(epoch)
    bar = tqdm(loader, total=len(loader), desc=f"epoch {epoch}", leave=False, disable=not progress)
    return train_epoch(model, bar, plan, cfg, optimizer=optimizer, scheduler=scheduler, scaler=scaler, criterion=criterion,
                       amp_dtype=amp_dtype, device=device, on_step=lambda step, loss, mean: bar.set_postfix(loss=f"{mean:.4f}"))  # fmt: skip


def train_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    plan: BatchPlan,
    cfg: TrainConfig,
    *,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    criterion: nn.Module,
    amp_dtype: torch.dtype | None,
    device: torch.device,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    on_step: Callable[[int, float, float], None] | None = None,
) -> tuple[float, float]:
    """One epoch of training steps over ``batches`` (sized: ``len()``) of ``(clips, labels)``: its mean loss and the
    seconds spent waiting for batches.

    The loop :func:`train` runs every epoch on its loader's shuffled batches (``benchmarks/bench_gpu.py`` times
    it on one batch already on the device, repeated). Per batch: forward pass under autocast when
    ``amp_dtype``, class-weighted loss, scaled backward of ``loss / plan.accumulate``, the loss read back (a
    device sync); every ``plan.accumulate`` batches and after the last one: unscale, clip to ``cfg.grad_clip``,
    optimizer and scaler step, clear the gradients, ``scheduler`` step. ``on_step(step, batch_loss,
    running_mean_loss)`` is called after every batch (and its optimizer step, when one was due), before the next
    batch is drawn; :func:`train` updates its progress bar with it.
    """
    model.train()
    freeze_backbone_batchnorm(model, plan.batch_size, cfg.freeze_bn_below)
    total, count, data_seconds = 0.0, 0, 0.0
    optimizer.zero_grad(set_to_none=True)
    n_batches = len(batches)
    waited = time.perf_counter()
    for step, (clips, labels) in enumerate(batches):
        data_seconds += time.perf_counter() - waited
        clips, labels = clips.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            loss = criterion(model(clips).float(), labels)
        scaler.scale(loss / plan.accumulate).backward()
        batch_loss = float(loss.detach())
        total += batch_loss * len(labels)
        count += len(labels)
        if (step + 1) % plan.accumulate == 0 or step + 1 == n_batches:
            scaler.unscale_(optimizer)
            if cfg.grad_clip:  # 0 or None: no clipping (a norm of 0 would zero every gradient)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            if scheduler is not None:
                scheduler.step()
        if on_step is not None:
            on_step(step, batch_loss, total / count)
        waited = time.perf_counter()
    return total / max(count, 1), data_seconds


def make_scaler(amp_dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A gradient scaler that scales only under float16 autocast (bf16 and fp32 need none)."""
    return torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)


def make_criterion(labels: np.ndarray, cfg: TrainConfig, device: torch.device) -> nn.Module:
    """Cross-entropy weighted by inverse class frequency of ``labels``, with the config's label smoothing."""
    return nn.CrossEntropyLoss(weight=_class_weights(labels).to(device), label_smoothing=cfg.label_smoothing)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; the ``backbone`` gets ``backbone_lr``, every other parameter ``lr``; no decay on norms and biases."""
    backbone = getattr(model, "backbone", None)
    backbone_ids = {id(p) for p in backbone.parameters()} if isinstance(backbone, nn.Module) else set()
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {(b, d): [] for b in (True, False) for d in (True, False)}
    for _, p in model.named_parameters():
        groups[(id(p) in backbone_ids, p.ndim > 1)].append(p)
    backbone_lr = cfg.backbone_lr if cfg.backbone_lr is not None else cfg.lr
    param_groups = [
        {"params": params, "lr": backbone_lr if is_backbone else cfg.lr, "weight_decay": cfg.weight_decay if decay else 0.0}
        for (is_backbone, decay), params in groups.items()
        if params
    ]  # backbone groups first: history's backbone_lr reads param_groups[0]
    return torch.optim.AdamW(param_groups)


def _warmup_cosine(cfg: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    warmup = max(1, round(cfg.warmup_epochs * steps_per_epoch)) if cfg.warmup_epochs > 0 else 0
    total = max(1, cfg.epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return 0.1 + 0.9 * step / warmup  # linear from 10 % of the learning rate
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _class_weights(labels: np.ndarray) -> torch.Tensor:
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    weights = len(labels) / (2.0 * np.maximum(counts, 1.0))
    return torch.tensor(weights, dtype=torch.float32)


def _f1_auc(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    f1 = float(f1_score(labels, probs >= 0.5, zero_division=0))
    auc = float(roc_auc_score(labels, probs)) if len(np.unique(labels)) == 2 else float("nan")
    return f1, auc


def _seed_epoch(seed: int, epoch: int) -> None:
    # Every random draw of an epoch (dropout, stochastic depth) depends on (seed, epoch) only.
    torch.manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def amp_dtype_for(device: torch.device, enabled: bool) -> torch.dtype | None:
    """The autocast dtype :func:`train` uses: bf16 on CUDA where supported, else fp16; None (fp32) on CPU or when off."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS on CPU


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _save(path, model, optimizer, scheduler, scaler, plan: BatchPlan, state: dict[str, Any], fingerprint: str) -> None:
    save_checkpoint(
        path,
        {
            "fingerprint": fingerprint,
            "model": _cpu_state(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "batch_size": plan.batch_size,
            "accumulate": plan.accumulate,
            "rng": rng_state(),
            **{k: state[k] for k in _STATE_KEYS},
        },
    )


_STATE_KEYS = ("epoch", "best_score", "best_epoch", "bad_epochs", "smoothed", "history", "best_state")


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    return asdict(cfg)
