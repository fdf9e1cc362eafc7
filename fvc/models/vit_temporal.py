"""Frame -> temporal models (seed 000): a timm ViT embeds each frame (its patch tokens max-pooled, or the seed's
CLS token with ``global_pool: token``), a temporal head reads the sequence of embeddings.

- ``vit_gru``: 2-layer GRU (hidden 256) over the frame embeddings and their frame-to-frame changes
  (``frame_deltas``); the last step's output -> linear.
- ``vit_transformer``: TransformerEncoder (d_model = ViT width, 8 heads, 2 layers) with learned temporal
  positions, mean-pooled over time -> linear.

The ViT variant, image size and depth are parameters: the default (the first 4 blocks of
``vit_tiny_patch16_224``, 4-pixel patches, at the clip size) trains on a laptop CPU; ``vit_base_patch16_224``
at 224 and its full depth (``depth: null``) is the paper-sized choice on a GPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fvc.models.cnn2d import FRAMES_CLIPSET
from fvc.models.registry import Resources, register_model

if TYPE_CHECKING:
    from fvc.models.nets.vit_temporal import ViTTemporal
    from fvc.models.weights import PretrainedSpec

__all__ = ["vit_gru", "vit_transformer"]

# depth 4: the first 4 of vit_tiny's 12 blocks. From scratch on ~170 training videos the full depth stayed at
# chance on fold 0 of the default run (held-out AUC 0.51) at 3x the time; 4 blocks reach 0.85-0.93 on every fold.
_DEFAULTS = {
    "clipset": FRAMES_CLIPSET, "vit": "vit_tiny_patch16_224", "img_size": None, "patch_size": 4, "depth": 4, "global_pool": "max",
    "pretrained": True, "dropout": 0.1,
    "epochs": 8, "batch_size": 16, "accumulate": 1, "lr": 3e-4, "backbone_lr": 1e-4, "weight_decay": 0.05,
    "warmup_epochs": 1, "patience": 3,
}  # fmt: skip
_VIT_CFG = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}  # timm's augreg ViTs
# How models saved before these parameters existed were built: the class token, no frame deltas.
_LEGACY = {"global_pool": "token", "frame_deltas": False}


@register_model(
    kind="torch",
    input="frames",
    default_params={**_DEFAULTS, "frame_deltas": True, "gru_hidden": 256, "layers": 2},
    resources=Resources(mem_mb=8000, runtime=180, gpu=1, threads=1),
    default_cfg=_VIT_CFG,
    legacy_params=_LEGACY,
)
def vit_gru(
    *, vit: str = "vit_tiny_patch16_224", img_size: int | None = None, patch_size: int | None = None, depth: int | None = None,
    global_pool: str = "max", frame_deltas: bool = True, pretrained: PretrainedSpec = True, dropout: float = 0.1, gru_hidden: int = 256,
    layers: int = 2,
) -> ViTTemporal:  # fmt: skip
    """ViT embedding per frame, with its change from the previous frame -> 2-layer GRU(256) -> linear."""
    from fvc.models.nets.vit_temporal import ViTTemporal

    return ViTTemporal("gru", vit=vit, img_size=img_size, patch_size=patch_size, depth=depth, global_pool=global_pool, frame_deltas=frame_deltas,
                       pretrained=pretrained, dropout=dropout, gru_hidden=gru_hidden, layers=layers)  # fmt: skip


@register_model(
    kind="torch",
    input="frames",
    # lr 1e-4: at 3e-4 the attention head's first epoch overshot (loss 0.98) and fold 0 stayed at AUC 0.50.
    default_params={**_DEFAULTS, "layers": 2, "heads": 8, "lr": 1e-4},
    resources=Resources(mem_mb=8000, runtime=180, gpu=1, threads=1),
    default_cfg=_VIT_CFG,
    legacy_params={"global_pool": _LEGACY["global_pool"]},
)
def vit_transformer(
    *, vit: str = "vit_tiny_patch16_224", img_size: int | None = None, patch_size: int | None = None, depth: int | None = None,
    global_pool: str = "max", pretrained: PretrainedSpec = True, dropout: float = 0.1, layers: int = 2, heads: int = 8,
) -> ViTTemporal:  # fmt: skip
    """ViT embedding per frame -> TransformerEncoder (ViT width, 8 heads, 2 layers), mean-pooled -> linear."""
    from fvc.models.nets.vit_temporal import ViTTemporal

    return ViTTemporal("transformer", vit=vit, img_size=img_size, patch_size=patch_size, depth=depth, global_pool=global_pool,
                       pretrained=pretrained, dropout=dropout, layers=layers, heads=heads)  # fmt: skip
