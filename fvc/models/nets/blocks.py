"""Reusable 2D building blocks of the image CNNs (:mod:`fvc.models.nets.deep_cnn`).

Convolution + BatchNorm + activation, depthwise-separable convolution, a basic residual block (plain or with
a shortcut), DenseNet-BC's dense block and transition, and two attention modules (squeeze-and-excitation,
CBAM). Every block works on any spatial size down to 1x1: pooling uses ``ceil_mode`` and convolutions are
padded, so tiny crops and odd frame sizes pass through.
"""

from __future__ import annotations

import torch
from torch import nn

# Registered with deep_v2 (torch-free, so reading the registry stays cheap); one copy.
from fvc.models.meta.deep_cnn import ATTENTIONS

__all__ = [
    "ATTENTIONS", "BasicBlock", "CBAM", "ConvBNAct", "DenseBlock", "DepthwiseSeparableConv", "HybridBlock", "SqueezeExcite",
    "Transition", "he_init", "make_attention",
]  # fmt: skip

class ConvBNAct(nn.Sequential):
    """``k x k`` convolution (no bias), BatchNorm, then ReLU (``act=False``: no activation)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, *, groups: int = 1, act: bool = True) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)
        self.out_channels = cout

    @property
    def bn(self) -> nn.BatchNorm2d:
        return self[1]


class DepthwiseSeparableConv(nn.Sequential):
    """A ``k x k`` depthwise convolution (one filter per channel, ``stride``) then a 1x1 pointwise one, each with BN.

    ``act=False`` leaves the pointwise output without activation (the last layer of a residual branch).
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, *, act: bool = True) -> None:
        super().__init__(ConvBNAct(cin, cin, kernel, stride, groups=cin), ConvBNAct(cin, cout, 1, act=act))
        self.out_channels = cout

    @property
    def bn(self) -> nn.BatchNorm2d:
        return self[1].bn


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): channels reweighted by a gate computed from their global means."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(8, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class CBAM(nn.Module):
    """Convolutional block attention (Woo et al. 2018): a channel gate from average- and max-pooled descriptors
    through one shared MLP, then a spatial gate from a ``k x k`` convolution over the channel mean and max maps."""

    def __init__(self, channels: int, reduction: int = 8, kernel: int = 7) -> None:
        super().__init__()
        hidden = max(8, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean(dim=(2, 3), keepdim=True)
        peak = x.amax(dim=(2, 3), keepdim=True)
        x = x * torch.sigmoid(self.mlp(avg) + self.mlp(peak))
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(maps))


def make_attention(kind: str, channels: int) -> nn.Module:
    """``se``, ``cbam`` or ``none`` (identity)."""
    if kind == "se":
        return SqueezeExcite(channels)
    if kind == "cbam":
        return CBAM(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {kind!r}")


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers (the first with ``stride``), optional attention, and with ``residual`` a shortcut.

    The shortcut is the identity when shape is kept, else a 1x1 conv-BN projection (with ``stride``): ResNet's
    option B. ``residual=False`` is a plain VGG-style block (conv-BN-ReLU twice). ``separable`` uses
    depthwise-separable convolutions for both layers.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, *, residual: bool = True, attention: str = "none",
                 separable: bool = False) -> None:  # fmt: skip
        super().__init__()
        conv = DepthwiseSeparableConv if separable else ConvBNAct
        self.residual = residual
        self.body = nn.Sequential(conv(cin, cout, 3, stride), conv(cout, cout, 3, act=not residual), make_attention(attention, cout))
        if residual:
            self.shortcut = nn.Identity() if stride == 1 and cin == cout else ConvBNAct(cin, cout, 1, stride, act=False)
            self.act = nn.ReLU(inplace=True)
        self.out_channels = cout

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The BatchNorm that ends the residual branch (zero-initialised: a new block starts as its shortcut)."""
        return self.body[1].bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.residual:
            return self.body(x)
        return self.act(self.body(x) + self.shortcut(x))


class _DenseLayer(nn.Module):
    """DenseNet-BC layer: BN-ReLU-1x1 conv (``bottleneck x growth`` channels), BN-ReLU-3x3 conv (``growth``)."""

    def __init__(self, cin: int, growth: int, bottleneck: int = 4) -> None:
        super().__init__()
        mid = bottleneck * growth
        self.layers = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, mid, 1, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, growth, 3, padding=1, bias=False),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DenseBlock(nn.Module):
    """``n_layers`` dense layers, each reading the concatenation of the block input and every earlier layer's
    output; the block returns that concatenation: ``cin + n_layers * growth`` channels."""

    def __init__(self, cin: int, n_layers: int, growth: int, *, bottleneck: int = 4) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_DenseLayer(cin + i * growth, growth, bottleneck) for i in range(n_layers))
        self.out_channels = cin + n_layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class Transition(nn.Sequential):
    """DenseNet transition: BN-ReLU-1x1 conv to ``cout`` channels (the compression), 2x2 average pooling."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False), nn.AvgPool2d(2, ceil_mode=True)
        )
        self.out_channels = cout


class HybridBlock(nn.Module):
    """Dense connections inside, a residual connection around, attention before the sum.

    ``n_layers`` depthwise-separable layers each read the concatenation of the block input and every earlier
    layer's output and add ``growth`` channels; a 1x1 conv-BN fuses the concatenation back to ``channels``, the
    attention module reweights it, and the block input is added (identity shortcut), then ReLU.
    """

    def __init__(self, channels: int, *, n_layers: int = 2, growth: int | None = None, attention: str = "se") -> None:
        super().__init__()
        growth = growth or max(8, channels // 2)
        self.layers = nn.ModuleList(DepthwiseSeparableConv(channels + i * growth, growth) for i in range(n_layers))
        self.fuse = ConvBNAct(channels + n_layers * growth, channels, 1, act=False)
        self.attention = make_attention(attention, channels)
        self.act = nn.ReLU(inplace=True)
        self.out_channels = channels

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.fuse.bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return self.act(x + self.attention(self.fuse(torch.cat(features, dim=1))))


def he_init(model: nn.Module, *, zero_init_residual: bool = True) -> nn.Module:
    """He (Kaiming normal, fan-in, ReLU gain) for every conv and linear layer, zero biases, BatchNorm at (1, 0).

    With ``zero_init_residual`` the BatchNorm ending the residual branch of each block with an identity shortcut
    starts at zero, so the block starts as the identity (Goyal et al. 2017): a deep network starts as a shallower
    one, and activations keep their scale. Blocks whose shortcut is a projection keep their branch: zeroed, it
    gets no gradient until that BatchNorm's weight moves, and a network made only of such blocks (deep_v1's
    residual variant) would start with no spatial filter at all, only 1x1 projections; it then failed the
    memorisation check (tests/unit/test_learning.py) that it passes with its branches live.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    if zero_init_residual:
        for module in model.modules():
            identity = isinstance(module, HybridBlock) or (
                isinstance(module, BasicBlock) and module.residual and isinstance(module.shortcut, nn.Identity)
            )
            if identity:
                nn.init.zeros_(module.last_bn.weight)
    return model
