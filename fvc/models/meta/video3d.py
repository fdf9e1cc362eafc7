"""3D CNNs' torch-free metadata (:mod:`fvc.models.video3d` registers, :mod:`fvc.models.nets.video3d` builds)."""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["RESNET_DEPTHS", "RESNET_STAGES"]

# Basic blocks per stage of the torchvision video ResNets fvc builds, by depth (He et al. 2016, table 1; Hara et
# al. 2018 in 3D); torchvision publishes depth 18. The registry's choices of `depth` are its keys.
RESNET_STAGES = MappingProxyType({10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)})
RESNET_DEPTHS = tuple(RESNET_STAGES)
