"""Image descriptors from the still-image system: HOG, LBP histograms and colour histograms.

Each is computed per frame, vectorised over the clip, and averaged over time into a fixed-length vector:
a 9-bin HOG orientation profile, a 10-bin rotation-invariant uniform LBP histogram, 8-bin histograms of
each RGB channel, and saturation statistics.
"""

from __future__ import annotations

import numpy as np

from fvc.features.handcrafted import to_luma

__all__ = ["IMAGE_FEATURE_NAMES", "colour_histograms", "hog_descriptor", "image_features", "lbp_histogram"]

HOG_BINS = 9
LBP_BINS = 10  # P=8 "riu2": 0..8 set bits for uniform patterns, 9 for all non-uniform ones
COLOUR_BINS = 8
IMAGE_FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"hog_{i}" for i in range(HOG_BINS))
    + tuple(f"lbp_{i}" for i in range(LBP_BINS))
    + tuple(f"colour_{c}_{i}" for c in "rgb" for i in range(COLOUR_BINS))
    + ("saturation_mean", "saturation_std")
)

# Neighbours of the 3x3 LBP, in circular order starting east and turning anticlockwise.
_LBP_OFFSETS = ((1, 2), (0, 2), (0, 1), (0, 0), (1, 0), (2, 0), (2, 1), (2, 2))


def image_features(clip: np.ndarray) -> dict[str, float]:
    """All image descriptors of a uint8 (T, H, W, 3) clip, averaged over frames."""
    luma = to_luma(clip)
    values = np.concatenate(
        [hog_descriptor(luma).reshape(len(luma), -1, 4, HOG_BINS).mean(axis=(1, 2)).mean(axis=0),
         lbp_histogram(luma).mean(axis=0), colour_histograms(clip).mean(axis=0), _saturation(clip)]
    )  # fmt: skip
    return {name: float(v) if np.isfinite(v) else 0.0 for name, v in zip(IMAGE_FEATURE_NAMES, values, strict=True)}


def hog_descriptor(luma: np.ndarray, cell: int = 8, block: int = 2) -> np.ndarray:
    """Dalal-Triggs HOG per frame: (T, n_blocks, block*block*9) with L2-Hys block normalisation.

    Unsigned orientations in 9 bins over [0, 180), centred-difference gradients, hard binning.
    Frames smaller than one block give one all-zero block.
    """
    t, h, w = luma.shape
    gx = np.zeros_like(luma)
    gy = np.zeros_like(luma)
    gx[:, :, 1:-1] = luma[:, :, 2:] - luma[:, :, :-2]
    gy[:, 1:-1, :] = luma[:, 2:, :] - luma[:, :-2, :]
    magnitude = np.hypot(gx, gy)
    orientation = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    bins = np.minimum((orientation / (180.0 / HOG_BINS)).astype(np.int64), HOG_BINS - 1)
    ch, cw = h // cell, w // cell
    if ch < block or cw < block:
        return np.zeros((t, 1, block * block * HOG_BINS))
    magnitude = magnitude[:, : ch * cell, : cw * cell]
    bins = bins[:, : ch * cell, : cw * cell]
    # Cell histograms through one bincount over (frame, cell row, cell col, bin) keys.
    frame_idx = np.arange(t)[:, None, None]
    cell_row = (np.arange(ch * cell) // cell)[None, :, None]
    cell_col = (np.arange(cw * cell) // cell)[None, None, :]
    keys = ((frame_idx * ch + cell_row) * cw + cell_col) * HOG_BINS + bins
    cells = np.bincount(keys.ravel(), weights=magnitude.ravel(), minlength=t * ch * cw * HOG_BINS).reshape(t, ch, cw, HOG_BINS)
    nb_r, nb_c = ch - block + 1, cw - block + 1
    blocks = np.stack([cells[:, i : i + nb_r, j : j + nb_c] for i in range(block) for j in range(block)], axis=3)
    blocks = blocks.reshape(t, nb_r * nb_c, block * block * HOG_BINS)
    blocks = blocks / np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + 1e-10)
    blocks = np.minimum(blocks, 0.2)
    return blocks / np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + 1e-10)


def lbp_histogram(luma: np.ndarray) -> np.ndarray:
    """Normalised 10-bin rotation-invariant uniform LBP (P=8, R=1) histogram per frame: (T, 10)."""
    t, h, w = luma.shape
    if h < 3 or w < 3:
        return np.zeros((t, LBP_BINS))
    centre = luma[:, 1:-1, 1:-1]
    bits = np.stack([luma[:, i : i + h - 2, j : j + w - 2] >= centre for i, j in _LBP_OFFSETS])  # (8, T, h-2, w-2)
    ones = bits.sum(axis=0)
    transitions = (bits != np.roll(bits, 1, axis=0)).sum(axis=0)
    codes = np.where(transitions <= 2, ones, LBP_BINS - 1)
    counts = np.stack([np.bincount(frame.ravel(), minlength=LBP_BINS) for frame in codes]).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def colour_histograms(clip: np.ndarray) -> np.ndarray:
    """Normalised 8-bin histograms of R, G and B per frame: (T, 24)."""
    t = clip.shape[0]
    binned = (np.asarray(clip, dtype=np.uint8) >> 5).reshape(t, -1, 3).astype(np.int64)  # 256 / 8 = 32 levels a bin
    keys = (np.arange(t)[:, None, None] * 3 + np.arange(3)[None, None, :]) * COLOUR_BINS + binned
    counts = np.bincount(keys.ravel(), minlength=t * 3 * COLOUR_BINS).reshape(t, 3 * COLOUR_BINS).astype(np.float64)
    return counts / max(1, binned.shape[1])


def _saturation(clip: np.ndarray) -> np.ndarray:
    """HSV saturation (max - min) / max, mean and std; channel-wise maxima beat a reduction over axis -1."""
    r, g, b = clip[..., 0], clip[..., 1], clip[..., 2]
    high = np.maximum(np.maximum(r, g), b).astype(np.float32)
    low = np.minimum(np.minimum(r, g), b).astype(np.float32)
    saturation = (high - low) / np.maximum(high, 1.0)  # 0 where high == 0, since then low == 0 too
    return np.array([saturation.mean(dtype=np.float64), saturation.std(dtype=np.float64)])
