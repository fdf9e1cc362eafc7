"""Handcrafted features respond to the artefact each one measures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from fvc.features.handcrafted import FEATURE_NAMES, clip_features, codec_features


def textured(seed: int = 0, size: int = 64, t: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.random((size, size)) * 255, 1.0)
    frames = np.stack([np.roll(base, k, axis=1) for k in range(t)])
    return np.repeat(frames[..., None], 3, axis=-1).clip(0, 255).astype(np.uint8)


def jpeg(clip: np.ndarray, quality: int) -> np.ndarray:
    out = []
    for frame in clip:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(buffer).convert("RGB")))
    return np.stack(out)


def test_all_features_present_and_finite():
    features = clip_features(textured())
    assert list(features) == list(FEATURE_NAMES)
    assert all(np.isfinite(v) for v in features.values())


def test_blur_lowers_sharpness():
    sharp = textured()
    blurred = ndimage.gaussian_filter(sharp.astype(float), sigma=(0, 1.5, 1.5, 0)).astype(np.uint8)
    a, b = clip_features(sharp), clip_features(blurred)
    assert b["laplacian_var_mean"] < 0.5 * a["laplacian_var_mean"]
    assert b["tenengrad_mean"] < a["tenengrad_mean"]


def test_aligned_jpeg_raises_blockiness():
    smooth = ndimage.gaussian_filter(textured().astype(float), sigma=(0, 2, 2, 0)).astype(np.uint8)
    assert clip_features(jpeg(smooth, 10))["blockiness_mean"] > clip_features(smooth)["blockiness_mean"] + 0.2


def test_nearest_upsampling_raises_high_dct_energy():
    base = textured(size=32)
    nearest = base.repeat(2, axis=1).repeat(2, axis=2)  # pixel-replicated 2x: step edges every 2 pixels
    smooth = ndimage.zoom(base.astype(float), (1, 2, 2, 1), order=3).clip(0, 255).astype(np.uint8)
    assert clip_features(nearest)["dct_high_ratio_mean"] > 2 * clip_features(smooth)["dct_high_ratio_mean"]


def test_flicker_and_constant_input():
    clip = textured(t=6)
    flickering = clip.astype(np.int16)
    flickering[1::2] += 30
    assert clip_features(flickering.clip(0, 255).astype(np.uint8))["luma_flicker"] > clip_features(clip)["luma_flicker"] + 10
    flat = np.full((3, 16, 16, 3), 128, np.uint8)
    assert all(np.isfinite(v) for v in clip_features(flat).values())
    single = clip_features(textured(t=1))
    assert single["temporal_diff"] == 0.0


def test_codec_features():
    f = codec_features(bitrate=1_000_000, fps=25, width=200, height=100)
    assert f["bits_per_pixel"] == pytest.approx(2.0)
    assert codec_features(0, 0, 10, 10)["bits_per_pixel"] == 0.0
