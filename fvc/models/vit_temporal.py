"""Frame -> temporal models (seed 000): a timm ViT embeds each frame (its CLS token), a temporal head reads the
sequence of embeddings.

- ``vit_gru``: 2-layer GRU (hidden 256) over the CLS tokens; the last step's output -> linear.
- ``vit_transformer``: TransformerEncoder (d_model = ViT width, 8 heads, 2 layers) with learned temporal
  positions, mean-pooled over time -> linear.

The ViT variant and image size are parameters: the default (``vit_tiny_patch16_224`` at the clip size)
trains on a laptop CPU; ``vit_base_patch16_224`` at 224 is the paper-sized choice on a GPU.
"""

from __future__ import annotations

import torch
from torch import nn

from fvc.models.cnn2d import FRAMES_CLIPSET
from fvc.models.registry import Resources, register_model
from fvc.models.weights import PretrainedSpec, create_backbone

__all__ = ["ViTTemporal", "vit_gru", "vit_transformer"]

_DEFAULTS = {
    "clipset": FRAMES_CLIPSET, "vit": "vit_tiny_patch16_224", "img_size": None, "pretrained": False, "dropout": 0.1,
    "epochs": 4, "batch_size": 4, "accumulate": 2, "lr": 3e-4, "backbone_lr": 1e-4, "weight_decay": 0.05,
    "warmup_epochs": 1, "patience": 3,
}  # fmt: skip
_VIT_CFG = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}  # timm's augreg ViTs


class ViTTemporal(nn.Module):
    """Per-frame ViT CLS embeddings followed by a temporal head (``"gru"`` or ``"transformer"``)."""

    def __init__(
        self,
        temporal: str,
        *,
        vit: str = "vit_tiny_patch16_224",
        img_size: int | None = None,
        pretrained: PretrainedSpec = False,
        dropout: float = 0.1,
        gru_hidden: int = 256,
        layers: int = 2,
        heads: int = 8,
        max_frames: int = 256,
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        kwargs = {"img_size": img_size} if img_size else {}
        self.backbone = create_backbone(vit, pretrained, **kwargs)
        width = self.backbone.num_features
        self.temporal = temporal
        if temporal == "gru":
            self.sequence = nn.GRU(width, gru_hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
            self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(gru_hidden, num_classes))
        elif temporal == "transformer":
            if width % heads:
                raise ValueError(f"ViT width {width} of '{vit}' is not divisible by heads={heads}")
            layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=dropout, activation="gelu",
                                               batch_first=True, norm_first=True)  # fmt: skip
            self.sequence = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
            self.positions = nn.Parameter(torch.zeros(1, max_frames, width))
            nn.init.trunc_normal_(self.positions, std=0.02)
            self.classifier = nn.Sequential(nn.LayerNorm(width), nn.Dropout(dropout), nn.Linear(width, num_classes))
        else:
            raise ValueError(f"unknown temporal head '{temporal}' (known: gru, transformer)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        tokens = self.backbone(x.flatten(0, 1)).view(b, t, -1)  # num_classes=0: the pooled CLS token
        if self.temporal == "gru":
            out, _ = self.sequence(tokens)
            return self.classifier(out[:, -1])
        if t > self.positions.shape[1]:
            raise ValueError(f"clip of {t} frames exceeds max_frames={self.positions.shape[1]}")
        encoded = self.sequence(tokens + self.positions[:, :t])
        return self.classifier(encoded.mean(dim=1))


@register_model(
    kind="torch",
    input="frames",
    default_params={**_DEFAULTS, "gru_hidden": 256, "layers": 2},
    resources=Resources(mem_mb=8000, runtime=180, gpu=1, threads=2),
    default_cfg=_VIT_CFG,
)
def vit_gru(
    *, vit: str = "vit_tiny_patch16_224", img_size: int | None = None, pretrained: PretrainedSpec = False, dropout: float = 0.1,
    gru_hidden: int = 256, layers: int = 2,
) -> ViTTemporal:  # fmt: skip
    """ViT CLS tokens per frame -> 2-layer GRU(256) -> linear."""
    return ViTTemporal("gru", vit=vit, img_size=img_size, pretrained=pretrained, dropout=dropout, gru_hidden=gru_hidden, layers=layers)


@register_model(
    kind="torch",
    input="frames",
    default_params={**_DEFAULTS, "layers": 2, "heads": 8},
    resources=Resources(mem_mb=8000, runtime=180, gpu=1, threads=2),
    default_cfg=_VIT_CFG,
)
def vit_transformer(
    *, vit: str = "vit_tiny_patch16_224", img_size: int | None = None, pretrained: PretrainedSpec = False, dropout: float = 0.1,
    layers: int = 2, heads: int = 8,
) -> ViTTemporal:  # fmt: skip
    """ViT CLS tokens per frame -> TransformerEncoder (ViT width, 8 heads, 2 layers), mean-pooled -> linear."""
    return ViTTemporal("transformer", vit=vit, img_size=img_size, pretrained=pretrained, dropout=dropout, layers=layers, heads=heads)
