"""Handcrafted forensic features of a clip: noise residual, DCT bands, sharpness, blockiness, temporal cues.

Every statistic is computed per frame over the whole (T, H, W) luma stack at once and summarised per clip by
its mean and standard deviation over time; temporal statistics are per clip. This is the *fused* path: the
filters share one padded copy of the stack and are written as array slices (the 3x3 median as a 19-step
min/max network), which makes it several times faster than calling one ``scipy.ndimage`` filter per
feature. :mod:`fvc.features.reference` is that straightforward version, kept as the correctness oracle
(the tests require equal values) and as the benchmark's baseline.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

__all__ = ["CODEC_FEATURES", "FEATURE_NAMES", "PER_FRAME", "TEMPORAL", "clip_features", "codec_features", "summarise", "to_luma"]

PER_FRAME = (
    "noise_std", "noise_kurtosis",
    "dct_low_ratio", "dct_mid_ratio", "dct_high_ratio",
    "laplacian_var", "gradient_mean", "tenengrad", "brenner",
    "blockiness", "block_offgrid_peak",
)  # fmt: skip
TEMPORAL = ("temporal_diff", "luma_flicker", "residual_flicker", "temporal_dip", "exposure_jitter", "local_jitter_max", "local_jitter_ratio")
FEATURE_NAMES: tuple[str, ...] = tuple(f"{name}_{stat}" for name in PER_FRAME for stat in ("mean", "std")) + TEMPORAL
KNOWN_CODECS = ("h264", "hevc", "mpeg4", "vp9", "av1", "mjpeg", "png")
CODEC_FEATURES: tuple[str, ...] = ("bits_per_pixel", "fps", "log_pixels", "aspect_ratio", "gop_frames") + tuple(
    f"codec_{name}" for name in (*KNOWN_CODECS, "other")
)

_BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Block-grid phases (column index mod 8 of the left pixel of a step) where H.264's 4x4 and 8x8 transforms
# put their own edges; a grid at any other phase is a trace of an earlier, shifted compression.
_CODEC_PHASES = (3, 7)
# Side of the luma blocks whose mean brightness the jitter features follow over time: small enough that a
# manipulated region (a face) covers whole blocks, large enough that sensor noise averages out.
_JITTER_BLOCK = 8


def to_luma(clip: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T, H, W) float32 luma in [0, 255] (BT.601 weights)."""
    rgb = np.asarray(clip, dtype=np.float32)
    return rgb[..., 0] * _BT601[0] + rgb[..., 1] * _BT601[1] + rgb[..., 2] * _BT601[2]


def clip_features(clip: np.ndarray) -> dict[str, float]:
    """All handcrafted features of one clip, ``FEATURE_NAMES`` -> finite float."""
    luma = to_luma(clip)
    padded = np.pad(luma, ((0, 0), (1, 1), (1, 1)), mode="symmetric")
    residual = luma - median3x3(padded)
    gx, gy = _sobel(padded)
    magnitude_sq = gx * gx + gy * gy
    dx = np.diff(luma, axis=2)
    dy = np.diff(luma, axis=1)
    noise_std, noise_kurtosis = _moments(residual)
    per_frame = {
        "noise_std": noise_std,
        "noise_kurtosis": noise_kurtosis,
        **dct_band_ratios(luma),
        "laplacian_var": _laplacian(padded).var(axis=(1, 2)),
        "gradient_mean": np.sqrt(magnitude_sq).mean(axis=(1, 2)),
        "tenengrad": magnitude_sq.mean(axis=(1, 2)),
        "brenner": _brenner(luma),
        **_block_statistics(np.abs(dx), np.abs(dy)),
    }
    return summarise(per_frame, temporal_features(luma, residual))


def summarise(per_frame: dict[str, np.ndarray], temporal: dict[str, float]) -> dict[str, float]:
    """Mean and std over time of each per-frame statistic, then the temporal ones; non-finite -> 0."""
    features: dict[str, float] = {}
    for name in PER_FRAME:
        values = np.asarray(per_frame[name], dtype=np.float64)
        features[f"{name}_mean"] = float(values.mean())
        features[f"{name}_std"] = float(values.std())
    features.update(temporal)
    return {k: (float(v) if np.isfinite(v) else 0.0) for k, v in features.items()}


def temporal_features(luma: np.ndarray, residual: np.ndarray) -> dict[str, float]:
    """Frame-to-frame change, brightness flicker, noise flicker and interpolated-frame dips."""
    out = dict.fromkeys(TEMPORAL, 0.0)
    if len(luma) < 2:
        return out
    frame_means = luma.mean(axis=(1, 2), dtype=np.float64)
    noise_levels = residual.std(axis=(1, 2), dtype=np.float64)
    out |= {
        "temporal_diff": float(np.abs(np.diff(luma, axis=0)).mean(dtype=np.float64)),
        "luma_flicker": float(np.abs(np.diff(frame_means)).mean()),
        "residual_flicker": float(np.abs(np.diff(noise_levels)).mean()),
    }
    if len(luma) >= 4:
        # A frame blended from its neighbours has almost no second temporal difference: a dip below the
        # clip's typical value marks interpolated frames.
        second = np.abs(luma[2:] - 2 * luma[1:-1] + luma[:-2]).mean(axis=(1, 2), dtype=np.float64)
        typical = float(np.median(second))
        out["temporal_dip"] = 1.0 - float(second.min()) / typical if typical > 1e-9 else 0.0
    if len(luma) >= 3:
        out.update(_brightness_jitter(luma))
    return out


def _brightness_jitter(luma: np.ndarray) -> dict[str, float]:
    """Frame-to-frame brightness jitter, of the whole frame and of regions, with smooth change removed.

    ``luma_flicker`` follows the frame mean's first difference, which a pan, a moving light or a slow
    exposure drift raise as much as a flicker does. The second difference of each block's mean brightness
    cancels any change that is steady over three frames and keeps what jumps back and forth: a region
    rendered frame by frame with its own gain. Its median over blocks is the frame-wide (exposure) part; what
    remains in each block is local. ``local_jitter_ratio`` compares the most jittery blocks with the typical
    one, so moving texture, which raises every block, does not read as a flickering region.
    """
    frames, height, width = luma.shape
    bh, bw = min(_JITTER_BLOCK, height), min(_JITTER_BLOCK, width)
    rows, cols = height // bh, width // bw
    blocks = luma[:, : rows * bh, : cols * bw].reshape(frames, rows, bh, cols, bw).mean(axis=(2, 4), dtype=np.float64)
    blocks = blocks.reshape(frames, rows * cols)
    second = blocks[2:] - 2.0 * blocks[1:-1] + blocks[:-2]
    common = np.median(second, axis=1, keepdims=True)
    local = np.sort(np.abs(second - common).mean(axis=0))
    top = local[-max(1, local.size // 16) :].mean()
    return {
        "exposure_jitter": float(np.abs(common).mean()),
        "local_jitter_max": float(local[-1]),
        "local_jitter_ratio": float(top / (np.median(local) + 1e-3)),
    }


def codec_features(bitrate: float, fps: float, width: int, height: int, codec: str = "", gop: float = 0.0) -> dict[str, float]:
    """Container-level cues from the index: bits per pixel per frame, rate, size, keyframe interval, codec."""
    pixels = max(1, int(width) * int(height))
    bpp = float(bitrate) / (pixels * fps) if fps > 0 and bitrate > 0 else 0.0
    features = {
        "bits_per_pixel": bpp,
        "fps": float(fps),
        "log_pixels": float(np.log(pixels)),
        "aspect_ratio": float(width) / max(1, int(height)),
        "gop_frames": float(gop),
    }
    codec = (codec or "").lower()
    for name in KNOWN_CODECS:
        features[f"codec_{name}"] = float(codec == name)
    features["codec_other"] = float(codec not in KNOWN_CODECS)
    return features


def median3x3(padded: np.ndarray) -> np.ndarray:
    """3x3 median of a (T, H+2, W+2) padded stack: Paeth's 19 compare-exchange network on array slices."""
    h, w = padded.shape[1] - 2, padded.shape[2] - 2
    p = [padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)]

    def exchange(a: int, b: int) -> None:
        low = np.minimum(p[a], p[b])
        p[b] = np.maximum(p[a], p[b])
        p[a] = low

    for a, b in ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3), (5, 8), (4, 7),
                 (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2)):  # fmt: skip
        exchange(a, b)
    return p[4]


def dct_band_ratios(luma: np.ndarray) -> dict[str, np.ndarray]:
    """Share of AC energy in low (1-2), mid (3-7) and high (>= 8) zig-zag bands (u+v) of 8x8 block DCTs."""
    t, h, w = luma.shape
    h8, w8 = h - h % 8, w - w % 8
    if h8 == 0 or w8 == 0:
        zeros = np.zeros(t, dtype=np.float64)
        return {"dct_low_ratio": zeros, "dct_mid_ratio": zeros, "dct_high_ratio": zeros}
    blocks = luma[:, :h8, :w8].reshape(t, h8 // 8, 8, w8 // 8, 8)
    energy = (fft.dctn(blocks, axes=(2, 4), norm="ortho") ** 2).sum(axis=(1, 3), dtype=np.float64)  # (t, 8, 8)
    order = np.add.outer(np.arange(8), np.arange(8))
    ac = energy[:, order > 0].sum(axis=1) + 1e-9
    return {
        "dct_low_ratio": energy[:, (order >= 1) & (order < 3)].sum(axis=1) / ac,
        "dct_mid_ratio": energy[:, (order >= 3) & (order < 8)].sum(axis=1) / ac,
        "dct_high_ratio": energy[:, order >= 8].sum(axis=1) / ac,
    }


def _sobel(padded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel x and y derivatives of the unpadded interior (same convention as ``scipy.ndimage.sobel``)."""
    h, w = padded.shape[1] - 2, padded.shape[2] - 2
    smooth_rows = padded[:, 0 : h, :] + 2 * padded[:, 1 : h + 1, :] + padded[:, 2 : h + 2, :]
    gx = smooth_rows[:, :, 2 : w + 2] - smooth_rows[:, :, 0:w]
    smooth_cols = padded[:, :, 0:w] + 2 * padded[:, :, 1 : w + 1] + padded[:, :, 2 : w + 2]
    gy = smooth_cols[:, 2 : h + 2, :] - smooth_cols[:, 0:h, :]
    return gx, gy


def _laplacian(padded: np.ndarray) -> np.ndarray:
    h, w = padded.shape[1] - 2, padded.shape[2] - 2
    centre = padded[:, 1 : h + 1, 1 : w + 1]
    return padded[:, 0:h, 1 : w + 1] + padded[:, 2 : h + 2, 1 : w + 1] + padded[:, 1 : h + 1, 0:w] + padded[:, 1 : h + 1, 2 : w + 2] - 4 * centre


def _brenner(luma: np.ndarray) -> np.ndarray:
    """Brenner focus measure: mean squared two-pixel difference, horizontal and vertical averaged."""
    horizontal = ((luma[:, :, 2:] - luma[:, :, :-2]) ** 2).mean(axis=(1, 2), dtype=np.float64)
    vertical = ((luma[:, 2:, :] - luma[:, :-2, :]) ** 2).mean(axis=(1, 2), dtype=np.float64)
    return (horizontal + vertical) / 2


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame standard deviation and kurtosis; float32 products, float64 sums (one pass each)."""
    centred = x - x.mean(axis=(1, 2), keepdims=True, dtype=np.float64).astype(np.float32)
    squared = centred * centred
    var = squared.mean(axis=(1, 2), dtype=np.float64)
    fourth = (squared * squared).mean(axis=(1, 2), dtype=np.float64)
    kurtosis = np.where(var > 1e-12, fourth / np.maximum(var, 1e-12) ** 2, 0.0)
    return np.sqrt(var), kurtosis


def _block_statistics(abs_dx: np.ndarray, abs_dy: np.ndarray) -> dict[str, np.ndarray]:
    """Step size at each 8-pixel phase relative to the mean step, from horizontal and vertical steps.

    ``blockiness``: the codec-aligned 8x8 grid (phase 7) against all other phases (1 = no grid).
    ``block_offgrid_peak``: the strongest phase outside H.264's own grid phases (shifted re-compression).
    """
    t = abs_dx.shape[0]
    phase_means = np.zeros((t, 8), dtype=np.float64)
    counts = np.zeros(8, dtype=np.float64)
    for steps, axis in ((abs_dx, 2), (abs_dy, 1)):
        n = steps.shape[axis]
        phases = np.arange(n) % 8
        sums = np.moveaxis(steps, axis, -1).sum(axis=-2, dtype=np.float64)  # (t, n): summed over the other axis
        other = steps.shape[1 if axis == 2 else 2]
        for phase in range(8):
            selected = phases == phase
            if selected.any():
                phase_means[:, phase] += sums[:, selected].sum(axis=1)
                counts[phase] += selected.sum() * other
    if counts.min() == 0:
        ones = np.ones(t, dtype=np.float64)
        return {"blockiness": ones, "block_offgrid_peak": ones}
    phase_means /= counts
    overall = phase_means.mean(axis=1) + 1e-6
    others = [p for p in range(8) if p != 7]
    offgrid = [p for p in range(8) if p not in _CODEC_PHASES]
    return {
        "blockiness": phase_means[:, 7] / (phase_means[:, others].mean(axis=1) + 1e-6),
        "block_offgrid_peak": phase_means[:, offgrid].max(axis=1) / overall,
    }
