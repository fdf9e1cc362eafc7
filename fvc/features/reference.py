"""Reference implementation of the handcrafted features: one ``scipy.ndimage`` filter per statistic.

Straightforward and slow on purpose. The tests require :func:`fvc.features.handcrafted.clip_features`
(the fused path the workflow uses) to match it, and ``benchmarks/bench_features.py`` measures the fused
path against it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from fvc.features.handcrafted import PER_FRAME, dct_band_ratios, summarise, temporal_features, to_luma

__all__ = ["reference_clip_features"]


def reference_clip_features(clip: np.ndarray) -> dict[str, float]:
    luma = to_luma(clip)
    residual = luma - ndimage.median_filter(luma, size=(1, 3, 3), mode="reflect")
    # Per frame: on a 3-D stack, ndimage's laplace and sobel would also filter across time.
    gx = np.stack([ndimage.sobel(frame, axis=1, mode="reflect") for frame in luma])
    gy = np.stack([ndimage.sobel(frame, axis=0, mode="reflect") for frame in luma])
    magnitude = np.hypot(gx, gy)
    per_frame = {
        "noise_std": residual.std(axis=(1, 2)),
        "noise_kurtosis": np.array([_kurtosis(frame) for frame in residual]),
        **dct_band_ratios(luma),
        "laplacian_var": np.array([ndimage.laplace(frame, mode="reflect").var() for frame in luma]),
        "gradient_mean": magnitude.mean(axis=(1, 2)),
        "tenengrad": (magnitude**2).mean(axis=(1, 2)),
        "brenner": np.array([_brenner(frame) for frame in luma]),
        **_blocks(luma),
    }
    assert set(per_frame) == set(PER_FRAME)
    return summarise(per_frame, temporal_features(luma, residual))


def _kurtosis(frame: np.ndarray) -> float:
    values = frame.astype(np.float64).ravel()
    centred = values - values.mean()
    var = (centred**2).mean()
    return float((centred**4).mean() / var**2) if var > 1e-12 else 0.0


def _brenner(frame: np.ndarray) -> float:
    f = frame.astype(np.float64)
    return float(((f[:, 2:] - f[:, :-2]) ** 2).mean() + ((f[2:, :] - f[:-2, :]) ** 2).mean()) / 2


def _blocks(luma: np.ndarray) -> dict[str, np.ndarray]:
    blockiness, offgrid = [], []
    for frame in luma.astype(np.float64):
        steps = [np.abs(np.diff(frame, axis=1)), np.abs(np.diff(frame, axis=0)).T]  # both as (rows, steps)
        phase_values = [np.concatenate([s[:, np.arange(s.shape[1]) % 8 == p].ravel() for s in steps]) for p in range(8)]
        means = np.array([v.mean() for v in phase_values])
        blockiness.append(means[7] / (means[:7].mean() + 1e-6))
        offgrid.append(means[[0, 1, 2, 4, 5, 6]].max() / (means.mean() + 1e-6))
    return {"blockiness": np.array(blockiness), "block_offgrid_peak": np.array(offgrid)}
