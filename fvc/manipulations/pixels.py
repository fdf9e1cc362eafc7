"""Pixel helpers shared by the renderer and the manipulation families."""

from __future__ import annotations

import numpy as np

__all__ = ["to_uint8"]


def to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0.0, 255.0).astype(np.uint8)
