"""The synthetic corpus's real videos: procedural scenes, deterministic in ``(seed, scene)``.

Every real scene is a moving camera over a textured background with a few moving soft-edged objects, lighting
drift and per-frame sensor noise. Scene ``i`` draws from ``np.random.default_rng([seed, i])``, so scenes are
independent of each other and of the corpus size; rendering is pure numpy / scipy on one thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.special import expit

from fvc.data.synth_config import SynthConfig, check_int
from fvc.manipulations.pixels import to_uint8

__all__ = ["render_scene"]


def render_scene(scene: int, cfg: SynthConfig) -> np.ndarray:
    """Render the real frames of ``scene``: a ``(T, H, W, 3)`` uint8 array, deterministic in ``(cfg.seed, scene)``.

    The frame size is ``cfg.sizes[scene % len(cfg.sizes)]``. Scene-level parameters (texture scales,
    palette, camera path, optical blur, noise level) are all drawn per scene so that no single image
    statistic is constant over the real class.
    """
    check_int("scene", scene, 0)
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
        frames[i] = to_uint8(img)
    return frames



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
