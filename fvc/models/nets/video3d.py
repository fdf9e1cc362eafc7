"""3D CNNs on clips ``(B, C, T, H, W)``: PyTorchVideo's SlowFast and X3D, torchvision's R3D / R(2+1)D (see
:mod:`fvc.models.video3d`)."""

from __future__ import annotations

import torch
from torch import nn

from fvc.models.meta.video3d import RESNET_STAGES

__all__ = ["SlowFast", "TorchvisionVideo", "X3D"]


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

    def published_layout(self) -> tuple[nn.Module, tuple[str, ...]]:
        """PyTorchVideo's checkpoints are ``create_slowfast``'s state dict: ``self.net``, less the 400-class projection."""
        return self.net, (f"blocks.{len(self.net.blocks) - 1}.proj.",)

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
        # Channels-last weights: oneDNN's backward of X3D's depthwise 3D convolutions is 3x faster on CPU in this
        # layout (0.28-0.40 s instead of 0.96-1.18 s per batch of 16 4x32x32 clips, 1 thread); state dicts and
        # loaded weights keep it, and the values are the same.
        self.net.to(memory_format=torch.channels_last_3d)
        self.backbone = nn.ModuleList(list(self.net.blocks)[:-1])

    def published_layout(self) -> tuple[nn.Module, tuple[str, ...]]:
        """PyTorchVideo's checkpoints are ``create_x3d``'s state dict: ``self.net``, less the 400-class projection
        (the head's pre/post convolutions are kept: they are features, not classes)."""
        return self.net, (f"blocks.{len(self.net.blocks) - 1}.proj.",)

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
    """torchvision's R3D / R(2+1)D (``VideoResNet``, basic blocks) at ``depth`` 10, 18 or 34, with a 2-class head.

    torchvision publishes the 18-layer networks (``r3d_18``, ``r2plus1d_18``); the same blocks at other depths
    are built with torchvision's own ``VideoResNet`` class, so module names match its checkpoints stage by stage.
    """

    def __init__(self, arch: str, *, depth: int = 18, dropout: float = 0.5, zero_init_residual: bool = True, num_classes: int = 2) -> None:
        super().__init__()
        import torchvision.models.video.resnet as resnet

        makers = {"r3d": (resnet.Conv3DSimple, resnet.BasicStem), "r2plus1d": (resnet.Conv2Plus1D, resnet.R2Plus1dStem)}
        if arch not in makers:
            raise ValueError(f"unknown torchvision video ResNet '{arch}'; expected one of {sorted(makers)}")
        if depth not in RESNET_STAGES:
            raise ValueError(f"{arch}: depth {depth} is not one of {sorted(RESNET_STAGES)}")
        conv, stem = makers[arch]
        net = resnet.VideoResNet(resnet.BasicBlock, [conv] * 4, list(RESNET_STAGES[depth]), stem)
        if zero_init_residual:
            # Every residual block starts as the identity (its last BatchNorm's scale at 0), as torchvision's 2D
            # ResNets offer and Goyal et al. (2017) recommend: from scratch, 33M parameters otherwise
            # start far from a function of the input and the training loss oscillated at 0.8-1.0.
            for block in net.modules():
                if isinstance(block, resnet.BasicBlock):
                    nn.init.zeros_(block.conv2[1].weight)
        width = net.fc.in_features
        net.fc = nn.Identity()
        self.backbone = net
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_classes))

    def published_layout(self) -> tuple[nn.Module, tuple[str, ...]]:
        """torchvision's checkpoints are ``VideoResNet``'s state dict: ``self.backbone``, less the 400-class ``fc``."""
        return self.backbone, ("fc.",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))
