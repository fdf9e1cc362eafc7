"""Frame-based 2D networks: the naive CNN and a timm backbone with a new head (see :mod:`fvc.models.cnn2d`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fvc.models.meta.cnn2d import NAIVE_POOLS
from fvc.models.registry import is_pretrained
from fvc.models.weights import PretrainedSpec, create_backbone

__all__ = ["NaiveCNN", "TransferClassifier"]


_POOL_LAYERS = {"avg": nn.AdaptiveAvgPool2d, "max": nn.AdaptiveMaxPool2d}


class NaiveCNN(nn.Module):
    """Seed 002's per-frame CNN: conv 32-64-128 (BN, ReLU, pooling), FC 128-64-2 with dropout, He init.

    ``global_pool`` is how the last block's map becomes one vector: ``avg`` is the seed's; ``max`` keeps the
    strongest local response, which is what a forensic trace confined to part of the frame (a spliced or
    flickering region's edge) gives. Averaged over the whole map it is diluted below what three small layers
    can separate: with ``avg`` this network did not memorise a flickering region's clip and its real twin
    (P(fake) 0.55 vs 0.51 after 100 steps of randomly drawn batches, training loss flat at 0.17-0.2); with ``max``
    it does (0.92 vs 0.04). On one fixed batch both memorise; on the default run's folds ``max`` 0.890, ``avg`` 0.897.
    """

    def __init__(self, num_classes: int = 2, dropout: float = 0.5, global_pool: str = "max") -> None:
        super().__init__()
        if global_pool not in NAIVE_POOLS:
            raise ValueError(f"naive_cnn: global_pool must be one of {', '.join(NAIVE_POOLS)}, got {global_pool!r}")

        def block(cin: int, cout: int, pool: nn.Module) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), pool]

        self.backbone = nn.Sequential(
            *block(3, 32, nn.MaxPool2d(2)),
            *block(32, 64, nn.MaxPool2d(2)),
            *block(64, 128, _POOL_LAYERS[global_pool](1)),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(128, 64), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(64, num_classes))
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        logits = self.head(self.backbone(x.flatten(0, 1)))
        return logits.view(b, t, -1).mean(dim=1)


class TransferClassifier(nn.Module):
    """A timm backbone (any name) with a new linear head, per frame, logits averaged over time.

    Progressive unfreezing: the backbone stays frozen for ``freeze_epochs`` epochs, then its top-level
    stages thaw one at a time, last first, every ``unfreeze_every`` epochs. Frozen stages keep their
    BatchNorm statistics (they stay in eval mode).
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        *,
        pretrained: PretrainedSpec = False,
        dropout: float = 0.2,
        freeze_epochs: int = 1,
        unfreeze_every: int = 1,
        num_classes: int = 2,
        **backbone_kwargs: Any,
    ) -> None:
        super().__init__()
        self.backbone = create_backbone(backbone, pretrained, **backbone_kwargs)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.backbone.num_features, num_classes))
        # Freezing protects pretrained features from a random head's first gradients; a random backbone frozen
        # is only random features, so without pretrained weights every stage trains from the start.
        self.progressive = is_pretrained(pretrained)
        self.freeze_epochs = freeze_epochs if self.progressive else 0
        self.unfreeze_every = max(1, unfreeze_every)
        self.stages = [m for m in self.backbone.children() if any(True for _ in m.parameters())]
        self.frozen = 0
        self.on_epoch_start(0)

    def on_epoch_start(self, epoch: int) -> None:
        """Set which backbone stages train this epoch (called by the engine before each epoch)."""
        if not self.progressive:
            thawed = len(self.stages)
        elif epoch < self.freeze_epochs:
            thawed = 0
        else:
            thawed = min(len(self.stages), 1 + (epoch - self.freeze_epochs) // self.unfreeze_every)
        self.frozen = len(self.stages) - thawed
        for i, stage in enumerate(self.stages):
            for p in stage.parameters():
                p.requires_grad_(i >= self.frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> TransferClassifier:
        super().train(mode)
        for stage in self.stages[: self.frozen]:
            stage.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        logits = self.head(self.backbone(x.flatten(0, 1)))
        return logits.view(b, t, -1).mean(dim=1)
