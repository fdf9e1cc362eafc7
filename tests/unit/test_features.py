"""Handcrafted and image features respond to the artefact each one measures, on constructed inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from fvc.features.handcrafted import FEATURE_NAMES, clip_features, codec_features, median3x3
from fvc.features.image import IMAGE_FEATURE_NAMES, colour_histograms, hog_descriptor, image_features, lbp_histogram
from fvc.features.reference import reference_clip_features


def textured(seed: int = 0, size: int = 64, t: int = 3, sigma: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.random((size, size)) * 255, sigma)
    frames = np.stack([np.roll(base, k, axis=1) for k in range(t)])
    return np.repeat(frames[..., None], 3, axis=-1).clip(0, 255).astype(np.uint8)


def jpeg(clip: np.ndarray, quality: int, shift: int = 0) -> np.ndarray:
    """JPEG each frame, with its 8x8 grid displaced by ``shift`` pixels when ``shift`` > 0."""
    out = []
    for frame in clip:
        moved = np.roll(frame, (shift, shift), axis=(0, 1))
        buffer = io.BytesIO()
        Image.fromarray(moved).save(buffer, format="JPEG", quality=quality)
        out.append(np.roll(np.asarray(Image.open(buffer).convert("RGB")), (-shift, -shift), axis=(0, 1)))
    return np.stack(out)


def grey(clip: np.ndarray) -> np.ndarray:
    return clip.mean(axis=-1).astype(np.float32)


def test_all_features_present_and_finite():
    features = {**clip_features(textured()), **image_features(textured())}
    assert list(features) == list(FEATURE_NAMES) + list(IMAGE_FEATURE_NAMES)
    assert all(np.isfinite(v) for v in features.values())


@pytest.mark.parametrize("shape", [(8, 112, 112, 3), (3, 61, 77, 3), (1, 16, 16, 3), (5, 9, 200, 3)])
def test_fused_path_equals_reference(shape):
    clip = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    fused, reference = clip_features(clip), reference_clip_features(clip)
    for name in FEATURE_NAMES:
        assert fused[name] == pytest.approx(reference[name], rel=1e-4, abs=1e-6), name


def test_median_network_equals_scipy_median():
    x = np.random.default_rng(0).random((2, 13, 17)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="symmetric")
    np.testing.assert_array_equal(median3x3(padded), ndimage.median_filter(x, size=(1, 3, 3), mode="reflect"))


def test_blur_lowers_every_sharpness_measure():
    sharp = textured()
    blurred = ndimage.gaussian_filter(sharp.astype(float), sigma=(0, 1.5, 1.5, 0)).astype(np.uint8)
    a, b = clip_features(sharp), clip_features(blurred)
    for name in ("laplacian_var_mean", "gradient_mean_mean", "tenengrad_mean", "brenner_mean"):
        assert b[name] < 0.7 * a[name], name
    assert b["dct_low_ratio_mean"] > a["dct_low_ratio_mean"]


def test_sensor_noise_raises_noise_residual():
    clean = textured(sigma=3.0)
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 6, clean.shape), 0, 255).astype(np.uint8)
    assert clip_features(noisy)["noise_std_mean"] > 2 * clip_features(clean)["noise_std_mean"]


def test_aligned_jpeg_raises_blockiness():
    smooth = textured(sigma=2.0)
    assert clip_features(jpeg(smooth, 10))["blockiness_mean"] > clip_features(smooth)["blockiness_mean"] + 0.2


def test_shifted_jpeg_grid_raises_offgrid_peak():
    smooth = textured(sigma=2.0)
    aligned, shifted = clip_features(jpeg(smooth, 10)), clip_features(jpeg(smooth, 10, shift=3))
    assert shifted["block_offgrid_peak_mean"] > aligned["block_offgrid_peak_mean"] + 0.2


def test_nearest_upsampling_raises_high_dct_energy():
    base = textured(size=32)
    nearest = base.repeat(2, axis=1).repeat(2, axis=2)  # pixel-replicated 2x: step edges every 2 pixels
    smooth = ndimage.zoom(base.astype(float), (1, 2, 2, 1), order=3).clip(0, 255).astype(np.uint8)
    assert clip_features(nearest)["dct_high_ratio_mean"] > 2 * clip_features(smooth)["dct_high_ratio_mean"]


def test_flicker_and_interpolated_frames():
    rng = np.random.default_rng(2)
    moving = np.stack([np.clip(ndimage.shift(textured(t=1)[0].astype(float), (0, 2 * t, 0)) + rng.normal(0, 2, (64, 64, 3)), 0, 255)
                       for t in range(8)]).astype(np.uint8)  # fmt: skip
    flickering = moving.astype(np.int16)
    flickering[1::2] += 30
    assert clip_features(flickering.clip(0, 255).astype(np.uint8))["luma_flicker"] > clip_features(moving)["luma_flicker"] + 10
    interpolated = moving.copy()
    interpolated[4] = ((moving[3].astype(np.float32) + moving[5]) / 2).astype(np.uint8)
    assert clip_features(interpolated)["temporal_dip"] > clip_features(moving)["temporal_dip"] + 0.2


def test_brightness_jitter_is_told_from_smooth_change_and_located():
    """A fade or a pan moves brightness steadily and leaves the jitter features low; a region (or the whole
    frame) whose brightness jumps frame to frame raises the local (or the exposure) one."""
    rng = np.random.default_rng(3)
    pan = textured(t=16)[::2].astype(float)  # 2 pixels a frame, wrapping round: the mean stays put
    moving = pan + rng.normal(0, 2, pan.shape)
    fade = moving * np.linspace(0.7, 1.0, 8)[:, None, None, None]  # steady: luma_flicker sees it, the jitter features do not
    jumps = np.where(np.arange(8) % 2, 12.0, -12.0)[:, None, None, None]
    region = moving.copy()
    region[:, 24:40, 24:40] += jumps[:, :, :1]  # a 16x16 region's brightness alternates
    whole = moving + jumps
    steady, faded, local, exposure = (clip_features(c.clip(0, 255).astype(np.uint8)) for c in (moving, fade, region, whole))
    assert faded["luma_flicker"] > 50 * steady["luma_flicker"]
    assert faded["exposure_jitter"] < 0.5 and steady["exposure_jitter"] < 0.5
    assert exposure["exposure_jitter"] > 20 * max(steady["exposure_jitter"], 0.1)
    assert local["local_jitter_max"] > 5 * steady["local_jitter_max"]
    assert local["local_jitter_ratio"] > 5 * max(steady["local_jitter_ratio"], faded["local_jitter_ratio"], exposure["local_jitter_ratio"])
    assert exposure["local_jitter_max"] < 2 * steady["local_jitter_max"] + 1  # frame-wide jitter is not local


def test_degenerate_inputs_stay_finite():
    for clip in (np.full((3, 16, 16, 3), 128, np.uint8), textured(t=1), np.zeros((2, 4, 5, 3), np.uint8)):
        values = {**clip_features(clip), **image_features(clip)}
        assert all(np.isfinite(v) for v in values.values())
    assert clip_features(textured(t=1))["temporal_diff"] == 0.0


def test_hog_orientation_of_stripes():
    stripes = np.tile((np.arange(64) // 4 % 2 * 255).astype(np.float32), (1, 64, 1))  # vertical stripes
    profile = hog_descriptor(stripes).reshape(1, -1, 4, 9).mean(axis=(1, 2))[0]
    assert profile.argmax() == 0  # horizontal gradients: orientation 0 degrees
    assert hog_descriptor(stripes.transpose(0, 2, 1)).reshape(1, -1, 4, 9).mean(axis=(1, 2))[0].argmax() == 4  # 90 degrees


def test_lbp_of_flat_and_noisy_frames():
    flat = lbp_histogram(np.full((1, 10, 10), 7.0, np.float32))[0]
    assert flat[8] == pytest.approx(1.0)  # every neighbour >= centre: the all-ones uniform pattern
    noisy = lbp_histogram(np.random.default_rng(0).random((1, 50, 50)).astype(np.float32))[0]
    assert noisy.sum() == pytest.approx(1.0) and noisy[9] > 0.2  # random texture: many non-uniform codes


def test_colour_histograms():
    red = np.zeros((1, 4, 4, 3), np.uint8)
    red[..., 0] = 255
    hist = colour_histograms(red)[0]
    assert hist[7] == 1.0 and hist[8] == 1.0 and hist[16] == 1.0 and hist.sum() == pytest.approx(3.0)
    assert image_features(red)["saturation_mean"] == pytest.approx(1.0)


def test_codec_features():
    f = codec_features(bitrate=1_000_000, fps=25, width=200, height=100, codec="h264", gop=30)
    assert f["bits_per_pixel"] == pytest.approx(2.0) and f["aspect_ratio"] == 2.0 and f["gop_frames"] == 30
    assert f["codec_h264"] == 1.0 and f["codec_other"] == 0.0
    still = codec_features(0, 0, 10, 10, codec="png")
    assert still["bits_per_pixel"] == 0.0 and still["codec_png"] == 1.0
    assert codec_features(1, 1, 1, 1, codec="prores")["codec_other"] == 1.0
