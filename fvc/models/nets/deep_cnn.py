"""Seed 003's image CNNs as per-frame networks (see :mod:`fvc.models.deep_cnn`), composed from
:mod:`fvc.models.nets.blocks`.

Both take a clip ``(B, T, C, H, W)``, run the 2D network on the ``B*T`` frames and average the frame logits
over time; a still image is a 1-frame clip. Both end their convolutional part with global average pooling,
so they accept any input size (the parameter count does not depend on it) and their ``backbone`` is
everything before the fully connected ``head``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# The choices are registered with the builders (torch-free, so reading the registry stays cheap); one copy.
from fvc.models.meta.deep_cnn import ARCHITECTURES, VARIANTS
from fvc.models.nets.blocks import (
    ATTENTIONS, BasicBlock, ConvBNAct, DenseBlock, DepthwiseSeparableConv, HybridBlock, Transition, he_init, make_attention,
)  # fmt: skip

__all__ = ["ARCHITECTURES", "V1_FILTERS", "VARIANTS", "DeepCNNv1", "DeepCNNv2"]

V1_FILTERS = (32, 64, 128, 256)
# DenseNet-121's layers per dense block; depth 4 keeps them, smaller depths scale them down.
_DENSENET_121 = (6, 12, 24, 16)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


class _FrameModel(nn.Module):
    """``backbone`` (frames -> feature vectors) and ``head`` (-> logits), frame logits averaged over time."""

    backbone: nn.Module
    head: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        logits = self.head(self.backbone(x.flatten(0, 1)))
        return logits.view(b, t, -1).mean(dim=1)


class DeepCNNv1(_FrameModel):
    """Seed 003's deep v1: 4 conv blocks of 32-64-128-256 filters, each two 3x3 conv-BN-ReLU layers, max-pooling
    and dropout after each block, global average pooling, FC ``hidden`` -> 2 with dropout.

    ``variant="residual"`` puts a skip connection around each block's two convolutions (a 1x1 conv-BN
    projection, since every block changes the channel count), added before the last ReLU.
    """

    def __init__(self, *, variant: str = "plain", dropout: float = 0.3, block_dropout: float = 0.1, hidden: int = 512,
                 num_classes: int = 2) -> None:  # fmt: skip
        super().__init__()
        _check_choice("deep_v1: variant", variant, VARIANTS)
        self.variant = variant
        layers: list[nn.Module] = []
        cin = 3
        for cout in V1_FILTERS:
            layers += [BasicBlock(cin, cout, residual=variant == "residual"), nn.MaxPool2d(2, ceil_mode=True), nn.Dropout(block_dropout)]
            cin = cout
        self.backbone = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        he_init(self)

    @property
    def blocks(self) -> list[BasicBlock]:
        return [m for m in self.backbone if isinstance(m, BasicBlock)]


class DeepCNNv2(_FrameModel):
    """Seed 003's deep v2 in three architectures, a stride-2 3x3 stem and four stages of ``width`` x (1, 2, 4, 8)
    channels, the last three halving the resolution:

    - ``resnet``: ``depth`` basic residual blocks per stage, identity shortcuts inside a stage and 1x1
      projections where it begins (ResNet-18's 2-2-2-2 blocks at ``depth: 2``);
    - ``densenet``: DenseNet-BC dense blocks (growth rate ``width // 2``, 1x1 bottlenecks of 4x growth) with
      transitions (compression 0.5, 2x2 average pooling) between them; DenseNet-121's (6, 12, 24, 16) layers
      per block at ``depth: 4``, scaled by ``depth / 4`` otherwise;
    - ``hybrid``: ``depth`` hybrid blocks per stage (two depthwise-separable layers with dense connections,
      fused by a 1x1 convolution, attention, identity shortcut), stages joined by stride-2 depthwise-separable
      convolutions.

    ``attention`` (``se``, ``cbam`` or ``none``; default: ``se`` for hybrid, none otherwise) adds squeeze-and-
    excitation or CBAM to every residual block (resnet) or after every dense block (densenet) as well.
    Global average pooling, dropout, one linear layer.
    """

    def __init__(self, *, architecture: str = "resnet", width: int = 32, depth: int = 2, attention: str | None = None,
                 dropout: float = 0.3, num_classes: int = 2) -> None:  # fmt: skip
        super().__init__()
        _check_choice("deep_v2: architecture", architecture, ARCHITECTURES)
        attention = attention or ("se" if architecture == "hybrid" else "none")
        _check_choice("deep_v2: attention", attention, ATTENTIONS)
        if width < 8 or depth < 1:
            raise ValueError(f"deep_v2: width must be >= 8 and depth >= 1, got width={width}, depth={depth}")
        self.architecture, self.attention = architecture, attention
        build = {"resnet": self._resnet, "densenet": self._densenet, "hybrid": self._hybrid}[architecture]
        stages, channels = build(width, depth, attention)
        self.backbone = nn.Sequential(*stages, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, num_classes))
        he_init(self)

    @staticmethod
    def _widening_stages(width: int, make_stage: Callable[[int, int, int], list[nn.Module]]) -> tuple[list[nn.Module], int]:
        """A stride-2 stem and four stages of ``width`` x (1, 2, 4, 8) channels; ``make_stage(i, cin, cout)``
        builds stage ``i``'s layers (the resnet and hybrid architectures differ only there)."""
        stages: list[nn.Module] = [ConvBNAct(3, width, 3, stride=2)]
        cin = width
        for i in range(4):
            cout = width * 2**i
            stages.append(nn.Sequential(*make_stage(i, cin, cout)))
            cin = cout
        return stages, cin

    @classmethod
    def _resnet(cls, width: int, depth: int, attention: str) -> tuple[list[nn.Module], int]:
        return cls._widening_stages(width, lambda i, cin, cout: [
            BasicBlock(cin if j == 0 else cout, cout, stride=2 if i and j == 0 else 1, attention=attention) for j in range(depth)
        ])  # fmt: skip

    @staticmethod
    def _densenet(width: int, depth: int, attention: str) -> tuple[list[nn.Module], int]:
        growth = max(4, width // 2)
        stages: list[nn.Module] = [ConvBNAct(3, 2 * growth, 3, stride=2)]
        channels = 2 * growth
        for i, layers in enumerate(_DENSENET_121):
            block = DenseBlock(channels, max(1, round(layers * depth / 4)), growth)
            stage: list[nn.Module] = [block, make_attention(attention, block.out_channels)]
            channels = block.out_channels
            if i < len(_DENSENET_121) - 1:
                stage.append(Transition(channels, channels // 2))
                channels //= 2
            else:  # pre-activation layers: the last block's output still needs its BN and ReLU
                stage += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
            stages.append(nn.Sequential(*stage))
        return stages, channels

    @classmethod
    def _hybrid(cls, width: int, depth: int, attention: str) -> tuple[list[nn.Module], int]:
        # Stages after the first open with a stride-2 depthwise-separable convolution that widens the channels.
        return cls._widening_stages(width, lambda i, cin, cout: (
            [DepthwiseSeparableConv(cin, cout, 3, stride=2)] if i else []
        ) + [HybridBlock(cout, attention=attention) for _ in range(depth)])  # fmt: skip
