"""Seed 003's deep CNNs' torch-free metadata (:mod:`fvc.models.deep_cnn` registers, :mod:`fvc.models.nets` builds)."""

from __future__ import annotations

__all__ = ["ARCHITECTURES", "ATTENTIONS", "VARIANTS"]

VARIANTS = ("plain", "residual")  # deep_v1
ARCHITECTURES = ("resnet", "densenet", "hybrid")  # deep_v2
ATTENTIONS = ("se", "cbam", "none")  # deep_v2's hybrid blocks
