"""Seed 003's own image CNNs as frame models: ``deep_v1`` (plain or residual) and ``deep_v2`` (resnet, densenet,
hybrid).

Frame models like :mod:`fvc.models.cnn2d`: the 2D network runs on every frame of a clip and the frame logits
are averaged; a still image is a 1-frame clip. The networks live in :mod:`fvc.models.nets.deep_cnn` and are
built from :mod:`fvc.models.nets.blocks`. Neither is in the default model list (the default run is already
over its time budget); add them under ``models:`` (docs/training.md, "Seed 003's image CNNs").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fvc.models.cnn2d import _TRAIN, FRAMES_CLIPSET
from fvc.models.meta.deep_cnn import ARCHITECTURES, ATTENTIONS, VARIANTS
from fvc.models.registry import Resources, register_model

if TYPE_CHECKING:
    from fvc.models.nets.deep_cnn import DeepCNNv1, DeepCNNv2
    from fvc.models.weights import PretrainedSpec

__all__ = ["deep_v1", "deep_v2"]

_NORM = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}


@register_model(
    kind="torch",
    input="frames",
    default_params={"clipset": FRAMES_CLIPSET, "variant": "plain", "dropout": 0.3, "block_dropout": 0.1, "pretrained": False,
                    **_TRAIN, "lr": 1e-3, "backbone_lr": 1e-3},  # fmt: skip
    resources=Resources(mem_mb=4000, runtime=60, gpu=0, threads=1),
    default_cfg=_NORM,
    choices={"variant": VARIANTS},
)
def deep_v1(*, variant: str = "plain", dropout: float = 0.3, block_dropout: float = 0.1, pretrained: PretrainedSpec = False) -> DeepCNNv1:
    """Seed 003's deep v1 per frame: 4 blocks of 2 conv-BN-ReLU (32-64-128-256), max-pool + dropout, GAP, FC 512-2."""
    from fvc.models.nets.deep_cnn import DeepCNNv1
    from fvc.models.weights import apply_pretrained

    return apply_pretrained(DeepCNNv1(variant=variant, dropout=dropout, block_dropout=block_dropout), pretrained, "deep_v1")


@register_model(
    kind="torch",
    input="frames",
    default_params={"clipset": FRAMES_CLIPSET, "architecture": "resnet", "width": 32, "depth": 2, "attention": None, "dropout": 0.3,
                    "pretrained": False, **_TRAIN, "lr": 1e-3, "backbone_lr": 1e-3},  # fmt: skip
    resources=Resources(mem_mb=6000, runtime=120, gpu=1, threads=1),
    default_cfg=_NORM,
    choices={"architecture": ARCHITECTURES, "attention": ATTENTIONS},
)
def deep_v2(
    *,
    architecture: str = "resnet",
    width: int = 32,
    depth: int = 2,
    attention: str | None = None,
    dropout: float = 0.3,
    pretrained: PretrainedSpec = False,
) -> DeepCNNv2:
    """Seed 003's deep v2 per frame: resnet (residual stages), densenet (dense blocks) or hybrid (dense + residual + attention)."""
    from fvc.models.nets.deep_cnn import DeepCNNv2
    from fvc.models.weights import apply_pretrained

    net = DeepCNNv2(architecture=architecture, width=width, depth=depth, attention=attention, dropout=dropout)
    return apply_pretrained(net, pretrained, "deep_v2")
