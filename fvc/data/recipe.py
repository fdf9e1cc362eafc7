"""A clip recipe: how a clipset turns a video into arrays (config ``clipsets.<name>``).

The one recipe type of the workflow: the clips stage makes arrays with it, a trained model stores it, and
``fvc predict`` and the test sets decode new files with the stored one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fvc.config import ConfigError

__all__ = ["ClipRecipe"]


@dataclass(frozen=True)
class ClipRecipe:
    """How a clipset turns a video into arrays (config ``clipsets.<name>``).

    ``frames`` positions are sampled (``uniform`` over the video, or every ``stride``-th frame of a centred
    window), each frame is scaled by ``scaling`` to ``size``, and ``copies`` augmented copies are made per
    video in addition to the untouched copy 0.
    """

    name: str
    frames: int
    size: int
    scaling: str  # "fixed", "crop" or "letterbox"
    sampling: str = "uniform"
    stride: int = 1
    copies: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any], name: str) -> ClipRecipe:
        try:
            recipe = config["clipsets"][name]
        except KeyError:
            known = ", ".join(sorted(config.get("clipsets", {}))) or "none"
            raise ConfigError(f"config key 'clipsets': no clipset named '{name}' (known: {known})") from None
        return cls(name=name, **recipe)
