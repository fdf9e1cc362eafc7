"""Deterministic synthetic corpus: procedural "real" videos and manipulated "fake" derivatives.

This is the workflow's embedded default dataset, so that the pipeline runs end to end with no download.
Every real scene is a moving camera over a textured background with a few moving soft-edged objects,
lighting drift and per-frame sensor noise; every fake is the same scene after one manipulation of the kind
real detectors meet (splicing, learned upsampling, double compression, temporal flicker, frame
interpolation). The fakes are localised or subtle on purpose: the corpus must rank classifiers, so it may
not be separable by one global statistic.

Determinism: scene ``i`` draws from ``np.random.default_rng([seed, i])`` and its manipulation from a
separate stream, so scenes are independent of each other and of the corpus size. Rendering is pure numpy /
scipy / Pillow on one thread, so identical configs give identical frames; byte identity of the corpus then
rests on ``fvc.io.encode.write_video`` writing identical bytes for identical frames.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage
from scipy.special import expit
from tqdm import tqdm

from fvc.io.atomic import atomic_write
from fvc.io.encode import write_image, write_video
from fvc.io.video import decode_all

__all__ = [
    "FAMILY_NAMES",
    "HELDOUT_FAMILY_NAMES",
    "KNOWN_FAMILIES",
    "SAMPLE_COLUMNS",
    "SynthConfig",
    "generate_corpus",
    "manipulate",
    "render_scene",
    "scene_crf",
]

FAMILY_NAMES: tuple[str, ...] = ("splice", "upsample", "double_compression", "flicker", "interpolation")
"""Manipulation families, in the order they are cycled over scenes by default."""

HELDOUT_FAMILY_NAMES: tuple[str, ...] = ("regrain",)
"""Families that no default training corpus contains: the shipped test set's unseen manipulation."""

KNOWN_FAMILIES: tuple[str, ...] = FAMILY_NAMES + HELDOUT_FAMILY_NAMES

SAMPLE_COLUMNS: tuple[str, ...] = ("path", "label", "group", "family")
"""Columns of ``samples.csv``."""

# Third entry of the manipulation seed: any constant other than a scene-rng entry would do; it keeps the
# manipulation stream independent of the scene stream so a change to the renderer's draws does not
# silently change which manipulation parameters a scene gets (and vice versa).
_MANIPULATION_STREAM = 0x6D616E69
# Likewise for the per-scene encoder settings.
_CODEC_STREAM = 0x636F6463

# Manipulated regions (a face, a replaced object): radius as a fraction of the frame's shorter side, and the
# width of the feathered edge in pixels.
_REGION_SCALE = (0.2, 0.35)
_REGION_FEATHER = (1.0, 3.0)
# Share of splice, flicker and interpolation fakes whose synthesised pixels carry the generator's upsampling
# trace; the others show only their own family's trace.
_GENERATED = 0.85
_GENERATOR_EPS = (0.08, 0.3)

# Smallest frame side: the objects, the 2x downscale and the JPEG 8x8 grid all need some room.
_MIN_SIDE = 16


# --------------------------------------------------------------------------------------------------------
# Config validation (defined before SynthConfig: generate_corpus's default argument builds one at import)


def _check_int(field: str, value: object, low: int, high: int | None = None) -> None:
    # bool is an int subclass; "scenes: true" in YAML is a config mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{field} must be {bounds}, got {value}")


def _normalise_sizes(sizes: object) -> tuple[tuple[int, int], ...]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"sizes must be a sequence of (width, height) pairs, got {sizes!r}")
    out: list[tuple[int, int]] = []
    for pair in sizes:  # type: ignore[union-attr]
        try:
            width, height = pair
        except (TypeError, ValueError):
            raise ValueError(f"sizes entries must be (width, height) pairs, got {pair!r}") from None
        for side in (width, height):
            if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < _MIN_SIDE or side % 2:
                raise ValueError(f"sizes entries must be even integers >= {_MIN_SIDE} (H.264 yuv420p), got {pair!r}")
        out.append((int(width), int(height)))
    if not out:
        raise ValueError("sizes must hold at least one (width, height) pair")
    return tuple(out)


def _normalise_families(families: object) -> tuple[str, ...]:
    if isinstance(families, str):
        # A bare string would otherwise be iterated letter by letter.
        families = (families,)
    if not hasattr(families, "__iter__"):
        raise ValueError(f"families must be a sequence of family names, got {families!r}")
    out = tuple(families)  # type: ignore[arg-type]
    if not out:
        raise ValueError("families must name at least one manipulation family")
    unknown = [name for name in out if name not in KNOWN_FAMILIES]
    if unknown:
        raise ValueError(f"families has unknown entries {unknown}; known families: {', '.join(KNOWN_FAMILIES)}")
    return out


def _check_frames(name: str, frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{name} must be a (T, H, W, 3) uint8 array, got {frames.shape} {frames.dtype}")
    if frames.shape[0] < 1 or frames.shape[1] < 2 or frames.shape[2] < 2:
        raise ValueError(f"{name} is too small: {frames.shape}")
    return frames


def _still_scenes(scenes: int, stills: int) -> frozenset[int]:
    # Spread over the corpus rather than the first few scenes, so stills cover several families and sizes.
    return frozenset((k * scenes) // stills for k in range(stills))


# --------------------------------------------------------------------------------------------------------
# Public API


@dataclass(frozen=True)
class SynthConfig:
    """Size and seed of the synthetic corpus; validated on construction (``ValueError`` names the field).

    Lists (as parsed from a YAML workflow config) are accepted for ``sizes`` and ``families`` and stored as
    tuples, so configs stay hashable and comparable.
    """

    scenes: int = 160
    """Number of source scenes; each yields one real and one fake video."""
    frames: int = 16
    """Frames per video."""
    fps: int = 16
    sizes: tuple[tuple[int, int], ...] = ((112, 84), (84, 112), (112, 64))
    """(width, height) per scene, cycled over scenes; even numbers (H.264 yuv420p)."""
    crf: int = 20
    """Centre of the per-scene H.264 quality: scene ``i`` is encoded at ``crf +- crf_spread`` (drawn per scene)."""
    crf_spread: int = 3
    """A scene's real and fake share one crf; scenes differ, so bitrate and compression strength vary across the
    corpus the way they do across uploads, and a file's size says little about its label."""
    stills: int = 4
    """Number of scenes that also export their middle frame as PNG stills (real and fake)."""
    families: tuple[str, ...] = FAMILY_NAMES
    """Manipulation families, cycled over scenes: scene ``i`` gets ``families[i % len(families)]``."""
    seed: int = 0
    images_only: bool = False
    """An image corpus: every scene's still pair and no video (``stills`` is then ignored). A still is one frame
    of the manipulated clip, so only the families that leave a trace in every frame make image fakes that differ
    from their real twin: ``splice``, ``upsample`` and ``double_compression`` (a ``flicker`` still is a
    brightness-shifted frame, an ``interpolation`` still may be an untouched one)."""

    def __post_init__(self) -> None:
        # Frozen dataclass: normalisation has to bypass __setattr__.
        object.__setattr__(self, "sizes", _normalise_sizes(self.sizes))
        object.__setattr__(self, "families", _normalise_families(self.families))
        _check_int("scenes", self.scenes, 1)
        _check_int("frames", self.frames, 2)
        _check_int("fps", self.fps, 1)
        _check_int("crf", self.crf, 0, 51)
        _check_int("crf_spread", self.crf_spread, 0, 25)
        if self.crf - self.crf_spread < 0 or self.crf + self.crf_spread > 51:
            raise ValueError(f"crf_spread must keep crf +- crf_spread in [0, 51], got crf={self.crf}, crf_spread={self.crf_spread}")
        _check_int("stills", self.stills, 0, self.scenes)
        _check_int("seed", self.seed, 0)
        if not isinstance(self.images_only, (bool, np.bool_)):
            raise ValueError(f"images_only must be true or false, got {self.images_only!r}")


def render_scene(scene: int, cfg: SynthConfig) -> np.ndarray:
    """Render the real frames of ``scene``: a ``(T, H, W, 3)`` uint8 array, deterministic in ``(cfg.seed, scene)``.

    The frame size is ``cfg.sizes[scene % len(cfg.sizes)]``. Scene-level parameters (texture scales,
    palette, camera path, optical blur, noise level) are all drawn per scene so that no single image
    statistic is constant over the real class.
    """
    _check_int("scene", scene, 0)
    rng = np.random.default_rng([cfg.seed, scene])
    width, height = cfg.sizes[scene % len(cfg.sizes)]
    n_frames = cfg.frames
    t = np.arange(n_frames, dtype=np.float64)

    # Camera: steady pan plus a slow sinusoidal wobble (hand-held look). Subpixel offsets are rendered by
    # bilinear sampling, which also gives the mild per-frame sharpness variation of a real moving camera.
    speed = rng.uniform(0.3, 2.5)
    heading = rng.uniform(0.0, 2.0 * math.pi)
    wobble = rng.uniform(0.0, 2.0)
    wobble_freq = rng.uniform(0.05, 0.25)
    wobble_phase = rng.uniform(0.0, 2.0 * math.pi, size=2)
    cam_x = speed * math.cos(heading) * t + wobble * np.sin(wobble_freq * t + wobble_phase[0])
    cam_y = speed * math.sin(heading) * t + wobble * np.cos(wobble_freq * t + wobble_phase[1])
    cam_x -= cam_x.min()
    cam_y -= cam_y.min()
    canvas_h = height + int(math.ceil(cam_y.max())) + 2
    canvas_w = width + int(math.ceil(cam_x.max())) + 2
    background = _background(canvas_h, canvas_w, rng)

    objects = [_random_object(height, width, n_frames, rng) for _ in range(int(rng.integers(2, 5)))]

    # Lighting: slow global gain drift plus a gently rotating brightness gradient (a moving light).
    light_amp = rng.uniform(0.02, 0.08)
    light_period = rng.uniform(1.0, 4.0) * n_frames
    light_phase = rng.uniform(0.0, 2.0 * math.pi)
    gradient_amp = rng.uniform(0.0, 0.12)
    gradient_angle0 = rng.uniform(0.0, 2.0 * math.pi)
    gradient_spin = rng.uniform(-0.04, 0.04)
    # Auto-exposure hunting: some real cameras jitter brightness frame to frame too, so temporal brightness
    # jitter alone must not separate real from "flicker" fakes.
    exposure_jitter = rng.uniform(0.0, 0.012) if rng.random() < 0.5 else 0.0
    exposure = 1.0 + exposure_jitter * rng.standard_normal(n_frames)

    # Optics and sensor: per-scene blur and noise level, so sharpness and noise vary across real videos.
    blur = rng.uniform(0.2, 0.8)
    noise_sigma = rng.uniform(2.0, 6.0)
    channel_corr = rng.uniform(0.3, 0.8)
    shot_weight = rng.uniform(0.0, 0.6)

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xn = xx / width - 0.5
    yn = yy / height - 0.5
    frames = np.empty((n_frames, height, width, 3), dtype=np.uint8)
    for i in range(n_frames):
        img = _bilinear_crop(background, cam_y[i], cam_x[i], height, width)
        for obj in objects:
            obj.draw(img, yy, xx, i)
        angle = gradient_angle0 + gradient_spin * i
        gain = float(exposure[i]) * (1.0 + light_amp * math.sin(2.0 * math.pi * i / light_period + light_phase))
        gain_map = gain * (1.0 + gradient_amp * (math.cos(angle) * xn + math.sin(angle) * yn))
        img *= gain_map[..., None]
        img = ndimage.gaussian_filter(img, sigma=(blur, blur, 0.0), mode="nearest")
        # Noise: partly shared across channels (Bayer demosaicing correlates them) and partly
        # signal-dependent (shot noise), with a scene-specific sigma.
        common = rng.standard_normal((height, width, 1), dtype=np.float32)
        own = rng.standard_normal((height, width, 3), dtype=np.float32)
        noise = channel_corr * common + math.sqrt(1.0 - channel_corr**2) * own
        level = noise_sigma * ((1.0 - shot_weight) + shot_weight * np.sqrt(np.clip(img, 0.0, 255.0) / 128.0))
        img += noise * level
        frames[i] = _to_uint8(img)
    return frames


def manipulate(
    frames: np.ndarray,
    family: str,
    rng: np.random.Generator,
    donor: np.ndarray | None = None,
) -> np.ndarray:
    """Return a manipulated copy of ``frames`` (``(T, H, W, 3)`` uint8); shape and dtype are kept.

    ``donor`` is only used by ``splice``: frames of another scene (any size and length; resized and cycled
    to fit). Without one, ``splice`` takes a time-reversed, displaced copy of ``frames`` itself.
    """
    try:
        apply = _FAMILIES[family]
    except (KeyError, TypeError):
        raise ValueError(f"unknown manipulation family {family!r}; known families: {', '.join(KNOWN_FAMILIES)}") from None
    frames = _check_frames("frames", frames)
    if donor is not None:
        donor = _check_frames("donor", donor)
    out = apply(frames, rng, donor)
    assert out.shape == frames.shape and out.dtype == np.uint8
    return out


def generate_corpus(
    out_dir: str | os.PathLike[str],
    cfg: SynthConfig = SynthConfig(),
    *,
    progress: bool = True,
    workers: int = 1,
) -> pd.DataFrame:
    """Write the corpus under ``out_dir`` and return its sample table (also written to ``samples.csv``).

    Layout: ``real/scene_###.mp4``, ``fake/scene_###_<family>.mp4``, and for ``cfg.stills`` scenes spread
    over the corpus ``real/still_###.png`` and ``fake/still_###_<family>.png`` (middle frames; downstream
    treats them as one-frame videos). ``samples.csv`` is written last and atomically, so its presence
    means the corpus is complete. Columns: ``path`` (relative, forward slashes), ``label`` (real/fake),
    ``group`` (``scene_###``, shared by everything derived from one scene, for leakage-free splits) and
    ``family`` (``none`` for real).

    ``workers`` processes render scenes side by side; every scene is a pure function of ``(cfg, scene)``,
    so the bytes do not depend on the number of workers.

    ``cfg.images_only`` writes an image corpus: every scene's still pair and no video.
    """
    root = Path(out_dir)
    still_scenes = frozenset(range(cfg.scenes)) if cfg.images_only else _still_scenes(cfg.scenes, cfg.stills)
    jobs = [(scene, cfg, root, scene in still_scenes) for scene in range(cfg.scenes)]
    bar = tqdm(total=cfg.scenes, desc="synthetic corpus", unit="scene", disable=not progress)
    if workers > 1 and cfg.scenes > 1:
        # fork: the workers inherit the imported modules instead of importing them again.
        with multiprocessing.get_context("fork").Pool(min(workers, cfg.scenes)) as pool:
            per_scene = []
            for rows in pool.imap(_write_scene, jobs):
                per_scene.append(rows)
                bar.update()
    else:
        per_scene = []
        for job in jobs:
            per_scene.append(_write_scene(job))
            bar.update()
    bar.close()

    table = pd.DataFrame([row for rows in per_scene for row in rows], columns=list(SAMPLE_COLUMNS))
    with atomic_write(root / "samples.csv") as handle:
        table.to_csv(handle, index=False, lineterminator="\n")
    return table


def scene_crf(scene: int, cfg: SynthConfig) -> int:
    """The H.264 crf of ``scene`` (its real and its fake alike), from its own random stream."""
    if cfg.crf_spread == 0:
        return cfg.crf
    rng = np.random.default_rng([cfg.seed, scene, _CODEC_STREAM])
    return int(rng.integers(cfg.crf - cfg.crf_spread, cfg.crf + cfg.crf_spread + 1))


def _write_scene(job: tuple[int, SynthConfig, Path, bool]) -> list[tuple[str, str, str, str]]:
    scene, cfg, root, with_still = job
    family = cfg.families[scene % len(cfg.families)]
    group = f"scene_{scene:03d}"
    real = render_scene(scene, cfg)
    donor = render_scene((scene + 1) % cfg.scenes, cfg) if family == "splice" and cfg.scenes > 1 else None
    fake = manipulate(real, family, np.random.default_rng([cfg.seed, scene, _MANIPULATION_STREAM]), donor)
    del donor

    rows = []
    if not cfg.images_only:
        crf = scene_crf(scene, cfg)
        real_rel = f"real/{group}.mp4"
        fake_rel = f"fake/{group}_{family}.mp4"
        write_video(root / real_rel, real, fps=cfg.fps, crf=crf)
        write_video(root / fake_rel, fake, fps=cfg.fps, crf=crf)
        rows += [(real_rel, "real", group, "none"), (fake_rel, "fake", group, family)]
    if with_still:
        middle = cfg.frames // 2
        real_still = f"real/still_{scene:03d}.png"
        fake_still = f"fake/still_{scene:03d}_{family}.png"
        write_image(root / real_still, real[middle])
        write_image(root / fake_still, fake[middle])
        rows += [(real_still, "real", group, "none"), (fake_still, "fake", group, family)]
    return rows


# --------------------------------------------------------------------------------------------------------
# Scene rendering


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0.0, 255.0).astype(np.uint8)


def _background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A (height, width, 3) float32 texture: multi-scale smoothed noise and gratings through a random palette."""
    field = np.zeros((height, width), dtype=np.float32)
    for scale in (1.0, 3.0, 8.0, 20.0):
        layer = ndimage.gaussian_filter(rng.standard_normal((height, width), dtype=np.float32), scale, mode="wrap")
        # Normalise per layer so the random weight, not the filter width, sets each scale's share.
        field += rng.uniform(0.05, 1.0) * layer / np.float32(layer.std(dtype=np.float64) + 1e-6)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(int(rng.integers(1, 4))):
        period = rng.uniform(5.0, 40.0)
        angle = rng.uniform(0.0, math.pi)
        phase = rng.uniform(0.0, 2.0 * math.pi)
        wave = np.sin((math.cos(angle) * xx + math.sin(angle) * yy) * (2.0 * math.pi / period) + phase)
        field += rng.uniform(0.2, 1.2) * wave.astype(np.float32)
    # Some scenes get hard-edged regions (walls, signs): strong edges, not only smooth texture.
    if rng.random() < 0.6:
        regions = ndimage.gaussian_filter(rng.standard_normal((height, width), dtype=np.float32), 12.0, mode="wrap")
        field += rng.uniform(0.8, 2.5) * (regions > 0).astype(np.float32) * np.float32(field.std(dtype=np.float64))
    field = (field - field.min()) / (np.ptp(field) + 1e-6)

    stops = np.sort(rng.uniform(0.0, 1.0, size=int(rng.integers(3, 6))))
    stops[0], stops[-1] = 0.0, 1.0
    palette = rng.uniform(25.0, 230.0, size=(stops.size, 3))
    out = np.stack([np.interp(field, stops, palette[:, c]) for c in range(3)], axis=-1).astype(np.float32)
    shading = ndimage.gaussian_filter(rng.standard_normal((height, width), dtype=np.float32), 25.0, mode="wrap")
    out *= (1.0 + rng.uniform(0.0, 0.25) * shading / np.float32(shading.std(dtype=np.float64) + 1e-6))[..., None]
    return out


def _bilinear_crop(canvas: np.ndarray, y: float, x: float, height: int, width: int) -> np.ndarray:
    iy, ix = int(math.floor(y)), int(math.floor(x))
    fy, fx = np.float32(y - iy), np.float32(x - ix)
    patch = canvas[iy : iy + height + 1, ix : ix + width + 1]
    top = (1 - fx) * patch[:-1, :-1] + fx * patch[:-1, 1:]
    bottom = (1 - fx) * patch[1:, :-1] + fx * patch[1:, 1:]
    return (1 - fy) * top + fy * bottom


@dataclass(frozen=True)
class _Object:
    """A soft-edged textured ellipse or rectangle moving on a line with constant spin."""

    is_ellipse: bool
    ry: float
    rx: float
    y0: float
    x0: float
    vy: float
    vx: float
    angle0: float
    spin: float
    softness: float
    colour: np.ndarray
    texture_amp: float
    texture_period: float
    texture_angle: float
    shade: float

    def draw(self, img: np.ndarray, yy: np.ndarray, xx: np.ndarray, t: int) -> None:
        cy, cx = self.y0 + self.vy * t, self.x0 + self.vx * t
        angle = self.angle0 + self.spin * t
        ca, sa = math.cos(angle), math.sin(angle)
        dy, dx = yy - np.float32(cy), xx - np.float32(cx)
        u = ca * dx + sa * dy
        v = -sa * dx + ca * dy
        if self.is_ellipse:
            dist = (np.sqrt((u / self.rx) ** 2 + (v / self.ry) ** 2) - 1.0) * min(self.rx, self.ry)
        else:
            dist = np.maximum(np.abs(u) - self.rx, np.abs(v) - self.ry)
        alpha = expit(-dist / self.softness).astype(np.float32)
        # Texture in object coordinates so it moves and turns with the object.
        ta = self.texture_angle
        texture = np.sin((math.cos(ta) * u + math.sin(ta) * v) * (2.0 * math.pi / self.texture_period))
        shade = 1.0 + self.shade * (u / self.rx)
        value = self.colour * shade[..., None] + (self.texture_amp * texture)[..., None]
        img += alpha[..., None] * (value - img)


def _random_object(height: int, width: int, n_frames: int, rng: np.random.Generator) -> _Object:
    side = min(height, width)
    return _Object(
        is_ellipse=bool(rng.random() < 0.6),
        ry=float(rng.uniform(0.08, 0.25) * side),
        rx=float(rng.uniform(0.08, 0.25) * side),
        y0=float(rng.uniform(0.15, 0.85) * height),
        x0=float(rng.uniform(0.15, 0.85) * width),
        # Bounded so that objects stay near the frame for the whole clip.
        vy=float(rng.uniform(-1.2, 1.2) * height / n_frames),
        vx=float(rng.uniform(-1.2, 1.2) * width / n_frames),
        angle0=float(rng.uniform(0.0, math.pi)),
        spin=float(rng.uniform(-0.05, 0.05)),
        softness=float(rng.uniform(0.4, 2.0)),
        colour=rng.uniform(20.0, 235.0, size=3).astype(np.float32),
        texture_amp=float(rng.uniform(0.0, 30.0)),
        texture_period=float(rng.uniform(3.0, 14.0)),
        texture_angle=float(rng.uniform(0.0, math.pi)),
        shade=float(rng.uniform(-0.25, 0.25)),
    )


# --------------------------------------------------------------------------------------------------------
# Manipulations


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


def _splice(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
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
        out[t] = _to_uint8(host + mask[..., None] * (src - host))
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


def _upsample(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
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
        out[t] = _to_uint8(host + mask * (up - host))
    return out


def _double_compression(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
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
    small_h, small_w = max(_MIN_SIDE // 2, (height // 4) * 2), max(_MIN_SIDE // 2, (width // 4) * 2)
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
        out[t] = _to_uint8(_learned_upsample(up, eps, 0.0, rng) if eps else up)
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


def _flicker(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
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
        out[t] = _to_uint8(host + mask * (edited - host))
    return out


def _interpolation(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
    del donor
    n_frames = frames.shape[0]
    out = frames.copy()
    if n_frames < 3:
        # No interior frame: ghost the last one with its only neighbour.
        out[-1] = _to_uint8(0.5 * (frames[0].astype(np.float32) + frames[-1].astype(np.float32)))
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
    out[chosen] = _to_uint8(blend)
    return out


_Manipulation = Callable[[np.ndarray, np.random.Generator, "np.ndarray | None"], np.ndarray]

# Read-only so that the dispatch table is not module-level mutable state.
def _regrain(frames: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
    # A retouched region (a beauty filter, a diffusion model's inpainting): denoised, which takes the fine
    # texture and the camera's and codec's noise with it, then given synthetic grain to hide the smoothness.
    # Traces: the missing texture under the grain, and grain that is white, luma-only and fresh every frame,
    # unlike the sensor noise around it. Not in the default training families (HELDOUT_FAMILY_NAMES): a
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
        out[t] = _to_uint8(host + mask * (edited - host))
    return out


_FAMILIES: Mapping[str, _Manipulation] = MappingProxyType(
    {
        "splice": _splice,
        "upsample": _upsample,
        "double_compression": _double_compression,
        "flicker": _flicker,
        "interpolation": _interpolation,
        "regrain": _regrain,
    }
)
assert tuple(_FAMILIES) == KNOWN_FAMILIES
