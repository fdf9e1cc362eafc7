"""Frame-based 2D CNNs: the naive CNN baseline and transfer learning from any timm backbone.

Every torch model in fvc takes a normalised float clip ``(B, T, C, H, W)`` and returns logits ``(B, 2)``
(real, fake). Frame models run their 2D network on all ``B*T`` frames at once and average the per-frame
logits over time. A model's pretrainable part is its ``backbone`` attribute: the engine gives it its own
learning rate.

A family module holds registrations only; the networks live in :mod:`fvc.models.nets` and are imported by
the builders, so reading the registry (every Snakemake DAG build) never imports torch or timm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fvc.models.meta.cnn2d import NAIVE_POOLS
from fvc.models.registry import Resources, register_model

if TYPE_CHECKING:
    from fvc.models.nets.cnn2d import NaiveCNN, TransferClassifier
    from fvc.models.weights import PretrainedSpec

__all__ = ["NAIVE_POOLS", "naive_cnn", "transfer"]

IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
FRAMES_CLIPSET = "frames"
_TRAIN = {"epochs": 12, "batch_size": 16, "accumulate": 1, "weight_decay": 1e-4, "warmup_epochs": 1, "patience": 3}


@register_model(
    kind="torch",
    input="frames",
    default_params={"clipset": FRAMES_CLIPSET, "dropout": 0.3, "global_pool": "max", "pretrained": False, **_TRAIN, "lr": 2e-3,
                    "backbone_lr": 2e-3},  # fmt: skip
    resources=Resources(mem_mb=4000, runtime=60, gpu=0, threads=1),
    default_cfg={"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
    choices={"global_pool": NAIVE_POOLS},
    legacy_params={"global_pool": "avg"},  # naive_cnn pooled by averaging before global_pool existed
)
def naive_cnn(*, dropout: float = 0.5, global_pool: str = "max", pretrained: PretrainedSpec = False) -> NaiveCNN:
    """Seed 002's naive per-frame CNN (32-64-128 conv, global max pooling, FC 128-64-2), frame logits averaged.

    ``global_pool: avg`` is the seed's own pooling (see :class:`~fvc.models.nets.cnn2d.NaiveCNN` for why max).
    """
    from fvc.models.nets.cnn2d import NaiveCNN
    from fvc.models.weights import apply_pretrained

    return apply_pretrained(NaiveCNN(dropout=dropout, global_pool=global_pool), pretrained, "naive_cnn")


@register_model(
    kind="torch",
    input="frames",
    default_params={"clipset": FRAMES_CLIPSET, "backbone": "resnet18", "pretrained": True, "dropout": 0.2,
                    "freeze_epochs": 1, "unfreeze_every": 1, **_TRAIN, "lr": 2e-3, "backbone_lr": 1e-4},  # fmt: skip
    resources=Resources(mem_mb=8000, runtime=120, gpu=1, threads=1),
    default_cfg=IMAGENET,
)
def transfer(
    *, backbone: str = "resnet18", pretrained: PretrainedSpec = True, dropout: float = 0.2, freeze_epochs: int = 1, unfreeze_every: int = 1
) -> TransferClassifier:
    """Any timm backbone (ResNet, DenseNet, EfficientNet, MobileNetV2, VGG...) with progressive unfreezing."""
    from fvc.models.nets.cnn2d import TransferClassifier

    return TransferClassifier(backbone, pretrained=pretrained, dropout=dropout, freeze_epochs=freeze_epochs, unfreeze_every=unfreeze_every)
