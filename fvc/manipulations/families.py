"""fvc's own manipulation families: the fakes of the embedded corpus, and of fakes made from real videos.

Each family is one function registered by name (:func:`~fvc.manipulations.registry.register_manipulation`):
``splice`` (a blended region with mismatched noise and colour), ``upsample`` (a learned upsampler's
checkerboard), ``double_compression`` (a re-upload at half size), ``flicker`` (frame-by-frame brightness
jitter), ``interpolation`` (blended in-between frames) and ``regrain`` (a denoised, re-grained region).
A family draws only from the generator it is given, in a fixed order, so a seed gives the same fake; the
embedded corpus's bytes rest on that order (``tests/unit/test_manipulations.py`` pins them).
"""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.special import expit

from fvc.io.encode import write_video
from fvc.io.video import decode_all
from fvc.manipulations.pixels import to_uint8
from fvc.manipulations.registry import register_manipulation

__all__ = ["MIN_SIDE", "double_compression", "flicker", "interpolation", "regrain", "splice", "upsample"]

# Smallest frame side: the objects, the 2x downscale and the JPEG 8x8 grid all need some room.
MIN_SIDE = 16
# Manipulated regions (a face, a replaced object): radius as a fraction of the frame's shorter side, and the
# width of the feathered edge in pixels.
_REGION_SCALE = (0.2, 0.35)
_REGION_FEATHER = (1.0, 3.0)
# Share of splice, flicker and interpolation fakes whose synthesised pixels carry the generator's upsampling
# trace; the others show only their own family's trace.
_GENERATED = 0.85
_GENERATOR_EPS = (0.08, 0.3)


def _estimate_noise(rgb: np.ndarray) -> float:
    """Immerkaer's fast noise sigma estimate on luminance: a Laplacian-difference kernel cancels smooth
    content, so the mean absolute response measures the noise."""
    lum = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    response = ndimage.convolve(lum, kernel, mode="reflect")[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2.0) * np.abs(response).mean(dtype=np.float64) / 6.0)


def _moving_masks(
    n_frames: int,
    height: int,
    width: int,
    rng: np.random.Generator,
    *,
    scale: tuple[float, float],
    feather: tuple[float, float],
) -> np.ndarray:
    """(T, H, W) float32 masks of a feathered ellipse drifting slowly near the frame centre, like a tracked face.

    Centred on purpose: the manipulated subject of a real fake (a face, a replaced object) is what the camera
    frames, and centre-cropping clipsets must see it as they would in real footage.
    """
    side = min(height, width)
    aspect = math.exp(rng.uniform(-0.25, 0.25))
    ry = rng.uniform(*scale) * side * aspect
    rx = rng.uniform(*scale) * side / aspect
    y0 = height * (0.5 + rng.uniform(-0.1, 0.1))
    x0 = width * (0.5 + rng.uniform(-0.1, 0.1))
    vy = rng.uniform(-0.15, 0.15) * height / n_frames
    vx = rng.uniform(-0.15, 0.15) * width / n_frames
    soft = rng.uniform(*feather)
    t = np.arange(n_frames, dtype=np.float32)[:, None, None]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy = np.clip(y0 + vy * t, ry * 0.5, height - ry * 0.5)
    cx = np.clip(x0 + vx * t, rx * 0.5, width - rx * 0.5)
    rho = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    return expit(-(rho - 1.0) * min(ry, rx) / soft).astype(np.float32)


def _resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    if img.shape[:2] == (height, width):
        return img
    factors = (height / img.shape[0], width / img.shape[1], 1.0)
    out = ndimage.zoom(img, factors, order=1, mode="nearest", grid_mode=True)
    return out[:height, :width]


@register_manipulation(
    "splice", temporal=False, yields_mask=True, uses_donor=True,
    params={"noise_ratio_low": (0.2, 0.5), "noise_ratio_high": (1.8, 3.0), "denoise": (1.0, 2.0), "colour_match": (0.3, 0.9)},
)
def splice(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
    """A region of another clip blended in, with mismatched noise and partly matched colour."""
    n_frames, height, width, _ = frames.shape
    if donor is None:
        # A differently processed copy of the scene itself: time-reversed and displaced.
        donor = np.roll(frames[::-1], shift=(height // 3, width // 3), axis=(1, 2))
    host_sigma = _estimate_noise(frames[n_frames // 2])
    # The region's noise deliberately mismatches the host: much cleaner or much noisier.
    lower, higher = rng.uniform(0.2, 0.5), rng.uniform(1.8, 3.0)
    new_sigma = max(0.5, host_sigma * (lower if rng.random() < 0.5 else higher))
    denoise = rng.uniform(1.0, 2.0)
    colour_match = rng.uniform(0.3, 0.9)
    # The pasted region comes out of a generator (a face-swap decoder): its upsampling trace, weaker than the
    # upsample family's and absent in some fakes (1 - _GENERATED), which then show only the blend.
    eps = _generator_eps(rng, *_GENERATOR_EPS) if rng.random() < _GENERATED else 0.0
    masks = _moving_masks(n_frames, height, width, rng, scale=_REGION_SCALE, feather=_REGION_FEATHER)
    out = np.empty_like(frames)
    for t in range(n_frames):
        host = frames[t].astype(np.float32)
        src = ndimage.gaussian_filter(donor[t % donor.shape[0]].astype(np.float32), (denoise, denoise, 0.0))
        src = _resize(src, height, width)
        mask = masks[t]
        weight = mask.sum(dtype=np.float64) + 1e-6
        # Partial colour transfer, as face-swap pipelines do, so the region is not betrayed by colour alone.
        host_mean = (host * mask[..., None]).sum((0, 1), dtype=np.float64) / weight
        src_mean = (src * mask[..., None]).sum((0, 1), dtype=np.float64) / weight
        src += (colour_match * (host_mean - src_mean)).astype(np.float32)
        src += new_sigma * rng.standard_normal(src.shape, dtype=np.float32)
        if eps:
            src = _learned_upsample(src, eps, 0.0, rng)
        out[t] = to_uint8(host + mask[..., None] * (src - host))
    return out


def _generator_eps(rng: np.random.Generator, low: float, high: float) -> float:
    """Strength of a generator's checkerboard, random sign; see :func:`_learned_upsample`."""
    return float(rng.uniform(low, high) * (1.0 if rng.random() < 0.5 else -1.0))


def _learned_upsample(img: np.ndarray, eps: float, renoise: float, rng: np.random.Generator) -> np.ndarray:
    """``img`` (H, W, 3 float32) through a generator's output layer: 2x average-pool, then a stride-2 transposed
    convolution with 3 taps ``[a, 1, a]``.

    ``a = 0.5`` would be bilinear upsampling; ``a = 0.5 (1 + eps)`` weights odd and even output positions
    unequally, the checkerboard of learned upsamplers (Odena et al. 2016) that detectors of generated video
    and images key on and that any resize destroys. ``renoise`` adds back texture, not the camera's noise.
    """
    height, width = img.shape[:2]
    a = 0.5 * (1.0 + eps)
    kernel = np.array([a, 1.0, a], dtype=np.float32)
    norm = np.float32(4.0 / (2.0 + eps) ** 2)  # keeps the mean brightness
    h2, w2 = height - height % 2, width - width % 2
    small = img[:h2, :w2].reshape(h2 // 2, 2, w2 // 2, 2, 3).mean(axis=(1, 3))
    up = img.copy()
    grid = np.zeros((h2, w2, 3), dtype=np.float32)
    grid[::2, ::2] = small
    grid = ndimage.correlate1d(grid, kernel, axis=0, mode="mirror")
    grid = ndimage.correlate1d(grid, kernel, axis=1, mode="mirror")
    up[:h2, :w2] = grid * norm
    if renoise:
        up += renoise * rng.standard_normal(up.shape, dtype=np.float32)
    return up


@register_manipulation(
    "upsample", temporal=False, yields_mask=True, params={"eps": (0.12, 0.3), "renoise": (0.3, 1.0)},
)
def upsample(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
    """The frame, or a region, through a learned 2x upsampler: its checkerboard trace."""
    del donor
    n_frames, height, width, _ = frames.shape
    eps = _generator_eps(rng, 0.12, 0.3)
    renoise = rng.uniform(0.3, 1.0)
    if rng.random() < 0.35:
        masks = np.ones((n_frames, height, width), dtype=np.float32)
    else:
        masks = _moving_masks(n_frames, height, width, rng, scale=_REGION_SCALE, feather=_REGION_FEATHER)
    out = np.empty_like(frames)
    for t in range(n_frames):
        host = frames[t].astype(np.float32)
        up = _learned_upsample(host, eps, renoise, rng)
        mask = masks[t][..., None]
        out[t] = to_uint8(host + mask * (up - host))
    return out


@register_manipulation(
    "double_compression", temporal=False, yields_mask=False, params={"crf": (30, 42), "jpeg_quality": (10, 40)},
)
def double_compression(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
    """A re-upload: downscaled, compressed hard (H.264 or JPEG) and scaled back up."""
    del donor
    # A re-upload: the clip was downscaled to half size, compressed hard at that size (H.264 at a low quality,
    # or every frame re-saved as JPEG, frames exported as images and re-assembled), and scaled back up before
    # the final encode, mostly by a learned upscaler ("AI upscaling"), otherwise bilinearly. Traces: the first
    # generation's blocks and smeared texture, magnified 2x; the upscaler's checkerboard; and, for bilinear,
    # the period-2 correlations of interpolation (Popescu and Farid's resampling trace). Without a
    # distinctive trace of their own these fakes are only smoother than the reals, and detectors ranked them
    # as the most real videos of all (ROC-AUC 0.33-0.43 on this family with a plain or bilinear rescale,
    # measured).
    n_frames, height, width, _ = frames.shape
    small_h, small_w = max(MIN_SIDE // 2, (height // 4) * 2), max(MIN_SIDE // 2, (width // 4) * 2)
    small = np.stack([_resize_area(frame, small_h, small_w) for frame in frames])
    if rng.random() < 0.5:
        small = _reencode(small, crf=int(rng.integers(30, 43)))
    else:
        quality = int(rng.integers(10, 41))
        for t in range(n_frames):
            buffer = io.BytesIO()
            Image.fromarray(small[t], mode="RGB").save(buffer, format="JPEG", quality=quality)
            buffer.seek(0)
            with Image.open(buffer) as decoded:
                small[t] = np.asarray(decoded.convert("RGB"))
    eps = _generator_eps(rng, *_GENERATOR_EPS) if rng.random() < _GENERATED else 0.0
    out = np.empty_like(frames)
    for t in range(n_frames):
        up = _resize(small[t].astype(np.float32), height, width)
        out[t] = to_uint8(_learned_upsample(up, eps, 0.0, rng) if eps else up)
    return out


def _resize_area(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 RGB area-averaged to ``height`` x ``width`` (Pillow's box filter)."""
    return np.asarray(Image.fromarray(img, mode="RGB").resize((width, height), Image.Resampling.BOX))


def _reencode(frames: np.ndarray, crf: int) -> np.ndarray:
    """``frames`` after an H.264 round trip at ``crf`` (deterministic: x264's C paths, one thread)."""
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        # yuv420p needs even sides; an odd row or column is carried over untouched.
        out = frames.copy()
        out[:, : height - height % 2, : width - width % 2] = _reencode(frames[:, : height - height % 2, : width - width % 2], crf)
        return out
    with tempfile.TemporaryDirectory(prefix="fvc-synth-") as tmp:
        path = Path(tmp) / "pass1.mp4"
        write_video(path, frames, crf=crf)
        decoded = decode_all(path)
    if decoded.shape != frames.shape:
        raise RuntimeError(f"H.264 round trip changed the clip's shape: {frames.shape} -> {decoded.shape}")
    return decoded


@register_manipulation(
    "flicker", temporal=True, yields_mask=True, params={"gain_sd": (0.03, 0.15), "offset_sd": (2.0, 8.0), "wobble": (0.4, 1.0)},
)
def flicker(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
    """Brightness jittered independently per frame, globally or in a region."""
    del donor
    n_frames, height, width, _ = frames.shape
    # 0 global jitter (a purely temporal trace, 1 in 5), 1 region jitter, 2 region jitter + wobble. A region
    # rendered frame by frame also stands out from its surroundings in each frame (a brightness step at the
    # mask's edge), as a face generated per frame does.
    mode = int(rng.choice(3, p=[0.2, 0.4, 0.4]))
    if mode == 0:
        gain_sd, offset_sd, wobble = rng.uniform(0.03, 0.07), rng.uniform(2.0, 5.0), 0.0
        masks = np.ones((n_frames, height, width), dtype=np.float32)
        eps = 0.0
    else:
        gain_sd, offset_sd = rng.uniform(0.05, 0.15), rng.uniform(2.0, 8.0)
        wobble = rng.uniform(0.4, 1.0) if mode == 2 else 0.0
        masks = _moving_masks(n_frames, height, width, rng, scale=_REGION_SCALE, feather=_REGION_FEATHER)
        # A region generated frame by frame carries the generator's upsampling trace (not in every fake).
        eps = _generator_eps(rng, *_GENERATOR_EPS) if rng.random() < _GENERATED else 0.0
    # Independent per frame: the temporal inconsistency of frame-by-frame generators.
    gains = 1.0 + gain_sd * rng.standard_normal(n_frames)
    offsets = offset_sd * rng.standard_normal(n_frames)
    shifts = wobble * rng.standard_normal((n_frames, 2))
    out = np.empty_like(frames)
    for t in range(n_frames):
        host = frames[t].astype(np.float32)
        edited = host
        if wobble:
            edited = ndimage.shift(host, (shifts[t, 0], shifts[t, 1], 0.0), order=1, mode="nearest")
        mean = np.float32(edited.mean(dtype=np.float64))
        edited = (edited - mean) * np.float32(gains[t]) + mean + np.float32(offsets[t])
        if eps:
            edited = _learned_upsample(edited, eps, 0.0, rng)
        mask = masks[t][..., None]
        out[t] = to_uint8(host + mask * (edited - host))
    return out


@register_manipulation(
    "interpolation", temporal=True, yields_mask=False, params={"fraction": (0.4, 0.6), "weight": (0.35, 0.65)},
)
def interpolation(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
    """Some interior frames replaced by noisy blends of their neighbours."""
    del donor
    n_frames = frames.shape[0]
    out = frames.copy()
    if n_frames < 3:
        # No interior frame: ghost the last one with its only neighbour.
        out[-1] = to_uint8(0.5 * (frames[0].astype(np.float32) + frames[-1].astype(np.float32)))
        return out
    # A random subset of interior frames, never two adjacent ones (so every replaced frame's neighbours are
    # originals), is replaced by a blend of its neighbours: naive frame-rate up-conversion or frame-drop
    # repair. It ghosts moving edges and removes the temporal independence of the noise. A random subset
    # rather than strict alternation, blend weights off 0.5 and a little fresh noise stand in for a learned
    # interpolator, whose output is neither an exact average nor periodic.
    fraction = rng.uniform(0.4, 0.6)
    draws = rng.random(n_frames)
    picked: list[int] = []
    for t in range(1, n_frames - 1):
        if draws[t] < fraction and (not picked or picked[-1] < t - 1):
            picked.append(t)
    chosen = np.array(picked or [1 + int(draws[0] * (n_frames - 2))], dtype=np.intp)
    weights = rng.uniform(0.35, 0.65, size=(chosen.size, 1, 1, 1)).astype(np.float32)
    renoise = rng.uniform(0.2, 0.5) * _estimate_noise(frames[n_frames // 2])
    before = frames[chosen - 1].astype(np.float32)
    after = frames[chosen + 1].astype(np.float32)
    blend = weights * before + (1.0 - weights) * after
    blend += renoise * rng.standard_normal(blend.shape, dtype=np.float32)
    # A learned interpolator synthesises the new frames: its upsampling trace on them (not in every fake).
    eps = _generator_eps(rng, *_GENERATOR_EPS) if rng.random() < _GENERATED else 0.0
    if eps:
        blend = np.stack([_learned_upsample(frame, eps, 0.0, rng) for frame in blend])
    out[chosen] = to_uint8(blend)
    return out


@register_manipulation(
    "regrain", temporal=False, yields_mask=True, params={"sigma": (0.8, 1.6), "grain": (2.0, 5.0)},
)
def regrain(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
    """A region denoised, then given fresh white luma grain."""
    # A retouched region (a beauty filter, a diffusion model's inpainting): denoised, which takes the fine
    # texture and the camera's and codec's noise with it, then given synthetic grain to hide the smoothness.
    # Traces: the missing texture under the grain, and grain that is white, luma-only and fresh every frame,
    # unlike the sensor noise around it. Not in the default training families (synth's HELDOUT_FAMILY_NAMES): a
    # detector meets it first in the shipped test set, as an unseen manipulation.
    del donor
    n_frames, height, width, _ = frames.shape
    sigma = rng.uniform(0.8, 1.6)
    grain = rng.uniform(2.0, 5.0)
    if rng.random() < 0.3:
        masks = np.ones((n_frames, height, width), dtype=np.float32)
    else:
        masks = _moving_masks(n_frames, height, width, rng, scale=_REGION_SCALE, feather=_REGION_FEATHER)
    out = np.empty_like(frames)
    for t in range(n_frames):
        host = frames[t].astype(np.float32)
        smooth = ndimage.gaussian_filter(host, (sigma, sigma, 0.0))
        edited = smooth + np.float32(grain) * rng.standard_normal((height, width, 1)).astype(np.float32)
        mask = masks[t][..., None]
        out[t] = to_uint8(host + mask * (edited - host))
    return out

