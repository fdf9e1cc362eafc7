"""Spatio-temporal 3D CNNs on clips ``(B, C, T, H, W)``: SlowFast, X3D, R3D and R(2+1)D.

SlowFast and X3D are PyTorchVideo's builders (``create_slowfast``, ``create_x3d``), the published
architectures (Feichtenhofer et al. 2019; Feichtenhofer 2020), not an r3d stand-in; R3D-18 and R(2+1)D-18
come from torchvision as baselines. Defaults are sized for a laptop CPU (small clips, SlowFast-R18); the
paper sizes are parameters (``model_depth=50`` and 32-frame 224 clips for SlowFast, X3D-M at 16x224).
"""

from __future__ import annotations

import torch
from torch import nn

from fvc.models.registry import Resources, register_model
from fvc.models.weights import PretrainedSpec, apply_pretrained

__all__ = ["SlowFast", "X3D", "TorchvisionVideo", "r2plus1d", "r3d", "slowfast", "x3d"]

CLIP_CLIPSET = "clip"
KINETICS = {"mean": (0.45, 0.45, 0.45), "std": (0.225, 0.225, 0.225)}
_TRAIN = {"epochs": 2, "batch_size": 4, "accumulate": 2, "lr": 1e-3, "weight_decay": 1e-4, "warmup_epochs": 0.5, "patience": 2}
_VIDEO_RESOURCES = Resources(mem_mb=16000, runtime=240, gpu=1, threads=2)
# X3D expansion presets (Feichtenhofer 2020, table 4): clip length and crop; all share width 2.0 and depth 2.2.
X3D_PRESETS = {"xs": (4, 160), "s": (13, 160), "m": (16, 224)}


class SlowFast(nn.Module):
    """SlowFast: a slow pathway sees every ``alpha``-th frame, a fast one (``beta`` x the channels) all frames.

    Lateral connections fuse fast into slow after the stem and each stage (time-strided convolutions), as in
    the paper; the input clip is split into the two pathways here.
    """

    def __init__(self, *, frames: int, size: int, alpha: int = 4, beta_inv: int = 8, fusion_ratio: int = 2,
                 model_depth: int = 18, dropout: float = 0.5, num_classes: int = 2) -> None:  # fmt: skip
        super().__init__()
        from pytorchvideo.models.slowfast import create_slowfast

        if frames % alpha:
            raise ValueError(f"slowfast: clip length {frames} (clipsets.<name>.frames) must be a multiple of alpha={alpha}")
        if size % 32:
            raise ValueError(f"slowfast: clip size {size} (clipsets.<name>.size) must be a multiple of 32")
        self.alpha = alpha
        spatial = size // 32
        self.net = create_slowfast(
            slowfast_channel_reduction_ratio=(beta_inv,),
            slowfast_conv_channel_fusion_ratio=fusion_ratio,
            slowfast_fusion_conv_stride=(alpha, 1, 1),
            slowfast_fusion_conv_kernel_size=(7, 1, 1),
            model_depth=model_depth,
            model_num_class=num_classes,
            dropout_rate=dropout,
            head_pool_kernel_sizes=((frames // alpha, spatial, spatial), (frames, spatial, spatial)),
        )
        self.backbone = nn.ModuleList(list(self.net.blocks)[:-1])  # everything but the head: its own learning rate

    def pathways(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, T, H, W) -> [slow (T / alpha frames), fast (T frames)]."""
        return [x[:, :, :: self.alpha], x]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.pathways(x))


class X3D(nn.Module):
    """X3D (PyTorchVideo): depthwise-separable 3D bottlenecks with squeeze-excitation and swish."""

    def __init__(self, *, frames: int, size: int, depth_factor: float = 2.2, width_factor: float = 2.0,
                 bottleneck_factor: float = 2.25, dropout: float = 0.5, num_classes: int = 2) -> None:  # fmt: skip
        super().__init__()
        from pytorchvideo.models.x3d import create_x3d

        if size % 32:
            raise ValueError(f"x3d: clip size {size} (clipsets.<name>.size) must be a multiple of 32")
        self.net = create_x3d(
            input_clip_length=frames,
            input_crop_size=size,
            depth_factor=depth_factor,
            width_factor=width_factor,
            bottleneck_factor=bottleneck_factor,
            model_num_class=num_classes,
            dropout_rate=dropout,
            head_activation=None,
        )
        _swish_to_silu(self.net)
        self.backbone = nn.ModuleList(list(self.net.blocks)[:-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _swish_to_silu(module: nn.Module) -> None:
    """Swap PyTorchVideo's Swish (a Python autograd function) for ``nn.SiLU``, the same x * sigmoid(x).

    A Python autograd function cannot be traced to TorchScript; SiLU is a native op, exports everywhere
    and computes identical values.
    """
    from pytorchvideo.layers.swish import Swish

    for name, child in module.named_children():
        if isinstance(child, Swish):
            setattr(module, name, nn.SiLU())
        else:
            _swish_to_silu(child)


class TorchvisionVideo(nn.Module):
    """torchvision's R3D-18 / R(2+1)D-18 with a new 2-class head."""

    def __init__(self, arch: str, *, dropout: float = 0.5, num_classes: int = 2) -> None:
        super().__init__()
        import torchvision.models.video as video

        net = getattr(video, arch)(weights=None)
        width = net.fc.in_features
        net.fc = nn.Identity()
        self.backbone = net
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


@register_model(
    kind="torch",
    input="clip",
    default_params={"clipset": CLIP_CLIPSET, "frames": None, "size": None, "alpha": 4, "beta_inv": 8, "model_depth": 18,
                    "dropout": 0.5, "pretrained": False, **_TRAIN},  # fmt: skip
    resources=_VIDEO_RESOURCES,
    default_cfg=KINETICS,
)
def slowfast(*, frames: int, size: int, alpha: int = 4, beta_inv: int = 8, model_depth: int = 18, dropout: float = 0.5,
             pretrained: PretrainedSpec = False) -> SlowFast:  # fmt: skip
    """SlowFast two-pathway network (PyTorchVideo builder); R18 on CPU, model_depth=50 for the paper's R50."""
    model = SlowFast(frames=frames, size=size, alpha=alpha, beta_inv=beta_inv, model_depth=model_depth, dropout=dropout)
    return apply_pretrained(model, pretrained, "slowfast")


@register_model(
    kind="torch",
    input="clip",
    default_params={"clipset": CLIP_CLIPSET, "frames": None, "size": None, "depth_factor": 2.2, "width_factor": 2.0,
                    "dropout": 0.5, "pretrained": False, **_TRAIN},  # fmt: skip
    resources=_VIDEO_RESOURCES,
    default_cfg=KINETICS,
)
def x3d(*, frames: int, size: int, depth_factor: float = 2.2, width_factor: float = 2.0, dropout: float = 0.5,
        pretrained: PretrainedSpec = False) -> X3D:  # fmt: skip
    """X3D (PyTorchVideo builder); XS/S/M differ by clip (4x160, 13x160, 16x224), set through the clipset."""
    return apply_pretrained(X3D(frames=frames, size=size, depth_factor=depth_factor, width_factor=width_factor, dropout=dropout), pretrained, "x3d")


@register_model(
    kind="torch", input="clip", default_params={"clipset": CLIP_CLIPSET, "dropout": 0.5, "pretrained": False, **_TRAIN},
    resources=_VIDEO_RESOURCES, default_cfg=KINETICS,
)  # fmt: skip
def r3d(*, dropout: float = 0.5, pretrained: PretrainedSpec = False) -> TorchvisionVideo:
    """torchvision R3D-18 (full 3D convolutions), baseline."""
    return apply_pretrained(TorchvisionVideo("r3d_18", dropout=dropout), pretrained, "r3d")


@register_model(
    kind="torch", input="clip", default_params={"clipset": CLIP_CLIPSET, "dropout": 0.5, "pretrained": False, **_TRAIN},
    resources=_VIDEO_RESOURCES, default_cfg=KINETICS,
)  # fmt: skip
def r2plus1d(*, dropout: float = 0.5, pretrained: PretrainedSpec = False) -> TorchvisionVideo:
    """torchvision R(2+1)D-18 (factorised spatial and temporal convolutions), baseline."""
    return apply_pretrained(TorchvisionVideo("r2plus1d_18", dropout=dropout), pretrained, "r2plus1d")
