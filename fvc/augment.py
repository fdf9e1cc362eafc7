"""Deterministic clip augmentations, computed once in the clips stage and shared by every fold and model.

Each augmented copy is fully determined by ``(seed, video_id, copy)``: :func:`plan_copy` draws which
operations apply and their parameters from a generator seeded by exactly those three values, and
:func:`apply_plan` replays the plan. The plan is recorded in the clip manifest, so every copy can be
explained and reproduced. Spatial operations use one draw per clip (the same flip, crop or colour change on
every frame, as a camera would); noise is drawn per frame.

Copy 0 is always the untouched clip; copies 1.. are augmented and used for training only (the fold
selection in :mod:`fvc.data.splits` enforces that).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np
from PIL import Image
from scipy import ndimage

from fvc.io.encode import X264_REPRODUCIBLE

__all__ = ["OPERATIONS", "AugmentConfig", "AugmentPlan", "apply_plan", "jitter_positions", "plan_copy"]

OPERATIONS = ("temporal_jitter", "hflip", "crop", "color", "rotate", "blur", "noise", "jpeg", "h264")


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and parameter ranges of each operation (config key ``augment``)."""

    p_hflip: float = 0.5
    p_crop: float = 0.5
    crop_scale: tuple[float, float] = (0.75, 1.0)  # side of the crop as a fraction of the frame side
    p_color: float = 0.5
    brightness: float = 0.15  # additive, fraction of 255
    contrast: float = 0.2  # multiplicative, +/-
    saturation: float = 0.2  # +/-
    p_rotate: float = 0.2
    max_degrees: float = 5.0
    p_blur: float = 0.2
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    p_noise: float = 0.3
    noise_sigma: tuple[float, float] = (1.0, 5.0)
    p_jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (40, 90)
    p_h264: float = 0.2
    h264_crf: tuple[int, int] = (23, 38)
    max_jitter: int = 2  # frames each sampled position may move

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> AugmentConfig:
        values = dict(values or {})
        for key, value in values.items():
            if isinstance(value, list):
                values[key] = tuple(value)
        return cls(**values)


@dataclass(frozen=True)
class AugmentPlan:
    """The operations chosen for one copy, with their parameters, in the order they apply."""

    copy: int
    ops: tuple[tuple[str, dict[str, Any]], ...] = field(default_factory=tuple)

    def describe(self) -> str:
        return ",".join(name for name, _ in self.ops) or "none"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _generator(seed: int, video_id: str, copy: int, stream: int) -> np.random.Generator:
    # SeedSequence mixes all entropy words, so neighbouring ids or copies give unrelated streams.
    return np.random.default_rng(np.random.SeedSequence([seed, int(video_id, 16), copy, stream]))


def plan_copy(seed: int, video_id: str, copy: int, cfg: AugmentConfig) -> AugmentPlan:
    """Draw the operations of augmented copy ``copy`` (>= 1) of ``video_id``."""
    if copy < 1:
        return AugmentPlan(copy=copy)
    rng = _generator(seed, video_id, copy, 0)
    ops: list[tuple[str, dict[str, Any]]] = []
    if rng.random() < cfg.p_hflip:
        ops.append(("hflip", {}))
    if rng.random() < cfg.p_crop:
        scale = float(rng.uniform(*cfg.crop_scale))
        ops.append(("crop", {"scale": scale, "y": float(rng.random()), "x": float(rng.random())}))
    if rng.random() < cfg.p_color:
        ops.append(("color", {
            "brightness": float(rng.uniform(-cfg.brightness, cfg.brightness)),
            "contrast": float(rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)),
            "saturation": float(rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)),
        }))  # fmt: skip
    if rng.random() < cfg.p_rotate:
        ops.append(("rotate", {"degrees": float(rng.uniform(-cfg.max_degrees, cfg.max_degrees))}))
    if rng.random() < cfg.p_blur:
        ops.append(("blur", {"sigma": float(rng.uniform(*cfg.blur_sigma))}))
    if rng.random() < cfg.p_noise:
        ops.append(("noise", {"sigma": float(rng.uniform(*cfg.noise_sigma)), "seed": int(rng.integers(2**31))}))
    # At most one re-compression: a second would mostly redo the first.
    draw = rng.random()
    if draw < cfg.p_jpeg:
        ops.append(("jpeg", {"quality": int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))}))
    elif draw < cfg.p_jpeg + cfg.p_h264:
        ops.append(("h264", {"crf": int(rng.integers(cfg.h264_crf[0], cfg.h264_crf[1] + 1))}))
    return AugmentPlan(copy=copy, ops=tuple(ops))


def jitter_positions(positions: np.ndarray, total: int, seed: int, video_id: str, copy: int, max_jitter: int) -> np.ndarray:
    """Move each sampled frame position by up to ``max_jitter`` frames (temporal jitter), kept in order."""
    positions = np.asarray(positions, dtype=np.int64)
    if copy < 1 or max_jitter <= 0 or total <= 1:
        return positions
    rng = _generator(seed, video_id, copy, 1)
    moved = positions + rng.integers(-max_jitter, max_jitter + 1, size=positions.shape)
    return np.sort(np.clip(moved, 0, total - 1))


def apply_plan(clip: np.ndarray, plan: AugmentPlan) -> np.ndarray:
    """Apply ``plan`` to a uint8 (T, H, W, 3) clip; the shape and dtype are kept."""
    out = np.asarray(clip)
    for name, params in plan.ops:
        out = _APPLY[name](out, **params)
    if out.shape != clip.shape or out.dtype != np.uint8:
        raise AssertionError(f"augmentation {plan.describe()} changed the clip from {clip.shape} to {out.shape}")
    return np.ascontiguousarray(out)


def _hflip(clip: np.ndarray) -> np.ndarray:
    return clip[:, :, ::-1]


def _crop(clip: np.ndarray, scale: float, y: float, x: float) -> np.ndarray:
    """Crop a ``scale`` fraction of each side at a relative position, then resize back (bilinear)."""
    _, h, w, _ = clip.shape
    ch, cw = max(2, round(h * scale)), max(2, round(w * scale))
    top, left = round((h - ch) * y), round((w - cw) * x)
    window = clip[:, top : top + ch, left : left + cw]
    return np.stack([np.asarray(Image.fromarray(frame).resize((w, h), Image.BILINEAR)) for frame in window])


def _color(clip: np.ndarray, brightness: float, contrast: float, saturation: float) -> np.ndarray:
    x = clip.astype(np.float32)
    grey = x.mean(axis=-1, keepdims=True)
    x = grey + (x - grey) * saturation
    x = (x - x.mean()) * contrast + x.mean() + brightness * 255.0
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _rotate(clip: np.ndarray, degrees: float) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(frame).rotate(degrees, resample=Image.BILINEAR)) for frame in clip])


def _blur(clip: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(clip, sigma=(0, sigma, sigma, 0), mode="reflect")


def _noise(clip: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(clip + rng.normal(0.0, sigma, clip.shape)), 0, 255).astype(np.uint8)


def _jpeg(clip: np.ndarray, quality: int) -> np.ndarray:
    frames = []
    for frame in clip:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        frames.append(np.asarray(Image.open(buffer).convert("RGB")))
    return np.stack(frames)


def _h264(clip: np.ndarray, crf: int) -> np.ndarray:
    """Encode the clip as H.264 in memory at ``crf`` and decode it back (odd sizes are edge-padded)."""
    t, h, w, _ = clip.shape
    # PyAV reads the buffer as if C-contiguous; a flipped view (negative strides) would be read wrongly.
    padded = np.ascontiguousarray(np.pad(clip, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge"))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = padded.shape[2], padded.shape[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1", "x264-params": X264_REPRODUCIBLE}
        stream.thread_count = 1  # x264's threaded encoder is not bit-reproducible either
        for i, frame in enumerate(padded):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = i
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))
    buffer.seek(0)
    # The demuxer is named, not probed: only the MP4 just written in memory is read (fvc.io.video.open_media
    # is the gate for files from disk).
    with av.open(buffer, mode="r", format="mp4") as container:
        # Copy each frame: to_ndarray may view a decoder buffer that is reused once the container closes.
        decoded = [frame.to_ndarray(format="rgb24").copy() for frame in container.decode(video=0)]
    if len(decoded) != t:
        raise RuntimeError(f"h264 round trip returned {len(decoded)} of {t} frames")
    return np.stack(decoded)[:, :h, :w]


_APPLY = {"hflip": _hflip, "crop": _crop, "color": _color, "rotate": _rotate, "blur": _blur,
          "noise": _noise, "jpeg": _jpeg, "h264": _h264}  # fmt: skip
