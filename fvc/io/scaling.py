"""Per-frame scaling applied while decoding, so a full-size frame never outlives its own decode step."""

from __future__ import annotations

from collections.abc import Callable

import av
import numpy as np

__all__ = ["SCALINGS", "centre_crop", "frame_transform"]

SCALINGS = ("fixed", "crop")


def frame_transform(scaling: str, size: int) -> Callable[[av.VideoFrame], np.ndarray]:
    """Return frame -> (size, size, 3) uint8 RGB for a clipset's ``scaling``.

    ``fixed`` resizes in swscale (area filter) straight from the decoder's YUV, the cheapest path.
    ``crop`` keeps native pixels: compression blocks and resampling traces survive, which is what
    forensic features look for; resizing would blur them away.
    """
    if scaling == "fixed":
        return lambda frame: frame.reformat(width=size, height=size, format="rgb24", interpolation="AREA").to_ndarray()
    if scaling == "crop":
        return lambda frame: centre_crop(frame.to_ndarray(format="rgb24"), size)
    raise ValueError(f"unknown scaling '{scaling}' (known: {', '.join(SCALINGS)})")


def centre_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre ``size`` x ``size`` crop; sides shorter than ``size`` are padded by mirroring the image."""
    height, width = rgb.shape[:2]
    pad_h, pad_w = max(0, size - height), max(0, size - width)
    if pad_h or pad_w:
        # Mirroring keeps local statistics (noise, blockiness) roughly intact; zero padding would add edges.
        rgb = np.pad(rgb, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)), mode="symmetric")
        height, width = rgb.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    return np.ascontiguousarray(rgb[top : top + size, left : left + size])
