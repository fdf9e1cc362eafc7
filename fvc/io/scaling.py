"""Per-frame scaling applied while decoding, so a full-size frame never outlives its own decode step.

Each transform takes a decoded frame and its display rotation and returns uint8 RGB:

- ``fixed``: resize to ``size`` x ``size`` (swscale, area filter, straight from the decoder's YUV).
- ``crop``: centre ``size`` x ``size`` crop at native resolution. Compression blocks, resampling traces
  and sensor noise survive, which forensic features look for; resizing would blur them away.
- ``letterbox``: longest side scaled down to ``size`` (never up), aspect ratio kept, then padded (centred, mirrored) up to a
  multiple of ``pad_multiple`` per side, so clips of different aspect ratios keep their shape. The padding
  is recorded by :func:`letterbox_geometry`. Given the video's probed ``display_size``, the geometry is
  that of the video, not of each frame: a stream that changes resolution part-way has its other frames
  resized into the same picture box, so every frame of a clip has one shape (the box the manifest records).

``fixed`` and ``crop`` give ``size`` x ``size`` whatever the frame size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np

from fvc.io.video import rotate

__all__ = ["SCALINGS", "LetterboxGeometry", "centre_crop", "frame_transform", "letterbox_geometry", "mirror_pad"]

SCALINGS = ("fixed", "crop", "letterbox")


@dataclass(frozen=True)
class LetterboxGeometry:
    """Where the picture sits inside a letterboxed frame of ``height`` x ``width``."""

    height: int
    width: int
    content_height: int
    content_width: int
    pad_top: int
    pad_left: int


def letterbox_geometry(width: int, height: int, size: int, pad_multiple: int = 16) -> LetterboxGeometry:
    """Geometry for a (display-oriented) ``width`` x ``height`` frame; a longest side above ``size`` becomes ``size``.

    Never enlarged: interpolating a frame up writes the very trace the ``upsample`` family (and a generator's
    learnt upsampling) leaves, on real and fake videos alike. Trained on frames that needed no scaling,
    variable_ar_cnn scored the shipped test set (whose 96x96 videos were enlarged to 112x112) at ROC-AUC
    0.52 while letterboxing enlarged, 0.65 since (its upsampling fakes: 0.68 -> 0.97).
    """
    scale = min(1.0, size / max(width, height))
    content_w = max(1, round(width * scale))
    content_h = max(1, round(height * scale))
    out_w = -(-content_w // pad_multiple) * pad_multiple
    out_h = -(-content_h // pad_multiple) * pad_multiple
    return LetterboxGeometry(out_h, out_w, content_h, content_w, (out_h - content_h) // 2, (out_w - content_w) // 2)


def frame_transform(
    scaling: str, size: int, *, pad_multiple: int = 16, display_size: tuple[int, int] | None = None
) -> Callable[[av.VideoFrame, int], np.ndarray]:
    """Return ``(frame, rotation) -> uint8 RGB`` for a clipset's ``scaling``.

    ``display_size`` (width, height as displayed, e.g. from :func:`fvc.io.video.probe`) fixes the letterbox
    geometry for the whole video; without it each frame's own size decides, which is the same for every
    frame of a constant-size stream.
    """
    if scaling == "fixed":
        # Resizing to a square commutes with a quarter-turn, so rotating after the cheap resize is exact.
        return lambda frame, rotation: rotate(_resize(frame, size, size), rotation)
    if scaling == "crop":
        return lambda frame, rotation: centre_crop(rotate(frame.to_ndarray(format="rgb24"), rotation), size)
    if scaling == "letterbox":
        fixed_geo = letterbox_geometry(*display_size, size, pad_multiple) if display_size else None

        def letterbox(frame: av.VideoFrame, rotation: int) -> np.ndarray:
            quarter = rotation in (90, 270)
            display_w, display_h = (frame.height, frame.width) if quarter else (frame.width, frame.height)
            # A frame of another size than the probed one is resized into the video's box (its aspect may
            # be stretched a little): one shape per clip beats rejecting the video.
            geo = fixed_geo or letterbox_geometry(display_w, display_h, size, pad_multiple)
            # Resize in the stored orientation, then rotate: the result has the display geometry.
            stored_w, stored_h = (geo.content_height, geo.content_width) if quarter else (geo.content_width, geo.content_height)
            content = rotate(_resize(frame, stored_w, stored_h), rotation)
            return mirror_pad(content, geo)

        return letterbox
    raise ValueError(f"unknown scaling '{scaling}' (known: {', '.join(SCALINGS)})")


def mirror_pad(content: np.ndarray, geo: LetterboxGeometry) -> np.ndarray:
    """Place ``content`` in ``geo``'s box, the bars filled by mirroring the picture.

    Not black: black bars, whose share of the frame differs between shapes, gave batches of one shape each
    their own BatchNorm statistics in training, unlike the single running average used at inference (on 16
    letterboxed clips of three shapes, variable_ar_cnn's inference-mode loss was 0.97 with black bars and 0.27
    mirrored, at a training loss of 0.06-0.13, when training batches still held one shape). Training batches
    now mix shapes and widen these bars the same way (:func:`fvc.train.data.pad_collate`). Mirroring also adds
    no edge at the picture's border (as in :func:`centre_crop`).
    """
    bottom = geo.height - geo.content_height - geo.pad_top
    right = geo.width - geo.content_width - geo.pad_left
    # np.pad mirrors repeatedly where a bar is wider than the picture itself (a sliver-shaped video).
    return np.pad(content, ((geo.pad_top, bottom), (geo.pad_left, right), (0, 0)), mode="symmetric")


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


def _resize(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    return frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()
