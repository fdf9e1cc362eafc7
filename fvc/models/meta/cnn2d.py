"""Frame CNNs' torch-free metadata (:mod:`fvc.models.cnn2d` registers, :mod:`fvc.models.nets.cnn2d` builds)."""

from __future__ import annotations

__all__ = ["NAIVE_POOLS"]

# naive_cnn's global poolings, default first; the network maps each name to its pooling layer.
NAIVE_POOLS = ("max", "avg")
