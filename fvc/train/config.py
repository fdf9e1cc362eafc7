"""The training engine's settings (model params of the same names), torch-free.

Kept apart from :mod:`fvc.train.engine` so that reading or checking a config (every Snakemake DAG build,
``fvc models``) never imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["MONITORS", "TrainConfig"]

MONITORS = {"val_loss": -1.0, "val_auc": 1.0, "val_f1": 1.0}  # sign: +1 when higher is better


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (model params of the same names override the defaults)."""

    epochs: int = 6
    batch_size: int = 8
    accumulate: int = 1
    lr: float = 1e-3
    backbone_lr: float | None = None  # None: same as lr
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    # Early stopping watches an exponential moving average of the validation loss: F1 at 0.5 on a few dozen
    # inner-validation videos jumps between epochs and stopped models before they had learnt anything.
    # No stop before min_epochs (None: half of epochs), and the kept weights come from epoch min_epochs - 1 or
    # later, so the untrained first epochs, whose BatchNorm running statistics lag, are never chosen.
    patience: int = 3
    min_epochs: int | None = None
    monitor: str = "val_loss"  # val_loss (lower is better), val_auc or val_f1 (higher is better)
    smoothing: float = 0.5  # weight of the previous average: 0 = raw values
    grad_clip: float | None = 1.0  # max global gradient norm; 0 or None: no clipping
    amp: bool = True  # only ever used on CUDA
    num_workers: int = 0
    label_smoothing: float = 0.0
    # BatchNorm running statistics are recomputed from this many training batches before every validation
    # ("precise BN", as PySlowFast trains X3D and SlowFast): the momentum averages lag weights that move
    # fast, and on CPU-sized runs the lag alone put eval-mode predictions at chance. 0 disables.
    precise_bn_batches: int = 4
    # Fine-tuning pretrained 3D networks with small batches: below this many clips per batch the backbone's
    # BatchNorm layers keep their pretrained statistics (eval mode; their scale and shift still train), as
    # detectors fine-tuned at a few clips per GPU do. 0 never freezes; the fold drops it for scratch training.
    freeze_bn_below: int = 0
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORS)}, got '{self.monitor}'")
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing}")

    @property
    def first_candidate_epoch(self) -> int:
        """The earliest epoch whose weights may be kept, and before which training never stops."""
        min_epochs = self.min_epochs if self.min_epochs is not None else math.ceil(self.epochs / 2)
        return max(0, min(min_epochs, self.epochs) - 1)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **overrides: Any) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in params.items() if k in names and v is not None}
        return cls(**{**values, **overrides})
