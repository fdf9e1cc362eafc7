"""Handcrafted forensic features of a clip: noise residual, DCT bands, sharpness, blockiness, flicker.

Each statistic is computed per frame with vectorised numpy/scipy over the whole (T, H, W) stack, then
summarised per clip by mean and standard deviation over time; temporal statistics are per clip.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, ndimage

__all__ = ["CODEC_FEATURES", "FEATURE_NAMES", "clip_features", "codec_features", "to_luma"]

_PER_FRAME = ("laplacian_var", "tenengrad", "noise_std", "noise_kurtosis", "dct_mid_ratio", "dct_high_ratio", "blockiness")
_TEMPORAL = ("temporal_diff", "luma_flicker", "residual_flicker")
FEATURE_NAMES: tuple[str, ...] = tuple(f"{name}_{stat}" for name in _PER_FRAME for stat in ("mean", "std")) + _TEMPORAL
CODEC_FEATURES: tuple[str, ...] = ("bits_per_pixel", "fps", "log_pixels")

_BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_luma(clip: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T, H, W) float32 luma in [0, 255]."""
    return np.asarray(clip, dtype=np.float32) @ _BT601


def clip_features(clip: np.ndarray) -> dict[str, float]:
    """All handcrafted features of one clip, as ``FEATURE_NAMES`` -> finite float."""
    luma = to_luma(clip)
    residual = luma - ndimage.median_filter(luma, size=(1, 3, 3), mode="reflect")
    per_frame = {
        "laplacian_var": ndimage.laplace(luma, mode="reflect").var(axis=(1, 2)),
        "tenengrad": _tenengrad(luma),
        "noise_std": residual.std(axis=(1, 2)),
        "noise_kurtosis": _kurtosis(residual),
        **_dct_band_ratios(luma),
        "blockiness": _blockiness(luma),
    }
    features: dict[str, float] = {}
    for name in _PER_FRAME:
        values = per_frame[name]
        features[f"{name}_mean"] = float(values.mean())
        features[f"{name}_std"] = float(values.std())
    if len(luma) > 1:
        features["temporal_diff"] = float(np.abs(np.diff(luma, axis=0)).mean())
        features["luma_flicker"] = float(np.abs(np.diff(luma.mean(axis=(1, 2)))).mean())
        features["residual_flicker"] = float(np.abs(np.diff(residual.std(axis=(1, 2)))).mean())
    else:
        features.update(temporal_diff=0.0, luma_flicker=0.0, residual_flicker=0.0)
    return {k: (v if np.isfinite(v) else 0.0) for k, v in features.items()}


def codec_features(bitrate: float, fps: float, width: int, height: int) -> dict[str, float]:
    """Container-level cues from the index: bits per pixel per frame, frame rate, resolution."""
    pixels = max(1, int(width) * int(height))
    bpp = float(bitrate) / (pixels * fps) if fps > 0 and bitrate > 0 else 0.0
    return {"bits_per_pixel": bpp, "fps": float(fps), "log_pixels": float(np.log(pixels))}


def _tenengrad(luma: np.ndarray) -> np.ndarray:
    gx = ndimage.sobel(luma, axis=2, mode="reflect")
    gy = ndimage.sobel(luma, axis=1, mode="reflect")
    return (gx * gx + gy * gy).mean(axis=(1, 2))


def _kurtosis(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=(1, 2), keepdims=True)
    var = (centred**2).mean(axis=(1, 2))
    fourth = (centred**4).mean(axis=(1, 2))
    return np.where(var > 1e-12, fourth / np.maximum(var, 1e-12) ** 2, 0.0)


def _dct_band_ratios(luma: np.ndarray) -> dict[str, np.ndarray]:
    """Share of AC energy in mid (3 <= u+v < 8) and high (u+v >= 8) bands of 8x8 block DCTs."""
    t, h, w = luma.shape
    h8, w8 = h - h % 8, w - w % 8
    if h8 == 0 or w8 == 0:
        zeros = np.zeros(t, dtype=np.float32)
        return {"dct_mid_ratio": zeros, "dct_high_ratio": zeros}
    blocks = luma[:, :h8, :w8].reshape(t, h8 // 8, 8, w8 // 8, 8)
    energy = fft.dctn(blocks, axes=(2, 4), norm="ortho") ** 2
    energy = energy.sum(axis=(1, 3))  # (t, 8, 8) summed over blocks
    u, v = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    order = u + v
    ac = energy[:, order > 0].sum(axis=1) + 1e-9
    return {
        "dct_mid_ratio": energy[:, (order >= 3) & (order < 8)].sum(axis=1) / ac,
        "dct_high_ratio": energy[:, order >= 8].sum(axis=1) / ac,
    }


def _blockiness(luma: np.ndarray) -> np.ndarray:
    """Mean absolute step across 8-pixel block boundaries over the mean step elsewhere (1 = no grid)."""
    ratios = []
    for axis in (1, 2):
        steps = np.abs(np.diff(luma, axis=axis))
        n = steps.shape[axis]
        on_grid = np.arange(n) % 8 == 7
        if not on_grid.any() or on_grid.all():
            ratios.append(np.ones(len(luma), dtype=np.float32))
            continue
        moved = np.moveaxis(steps, axis, -1)
        boundary = moved[..., on_grid].mean(axis=(-2, -1))
        inner = moved[..., ~on_grid].mean(axis=(-2, -1))
        ratios.append(boundary / (inner + 1e-6))
    return (ratios[0] + ratios[1]) / 2
