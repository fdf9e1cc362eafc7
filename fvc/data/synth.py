"""Deterministic synthetic corpus writer: procedural "real" videos and manipulated "fake" derivatives.

This is the workflow's embedded default dataset, so that the pipeline runs end to end with no download.
Every real scene is a moving camera over a textured background with a few moving soft-edged objects,
lighting drift and per-frame sensor noise; every fake is the same scene after one manipulation of the kind
real detectors meet (splicing, learned upsampling, double compression, temporal flicker, frame
interpolation). The fakes are localised or subtle on purpose: the corpus must rank classifiers, so it may
not be separable by one global statistic.

The scenes come from :mod:`fvc.data.render`, the manipulations from the registry (:mod:`fvc.manipulations`),
the settings from :mod:`fvc.data.synth_config`; this module writes the corpus.

Determinism: scene ``i`` draws from ``np.random.default_rng([seed, i])`` and its manipulation from a
separate stream, so scenes are independent of each other and of the corpus size. Rendering is pure numpy /
scipy / Pillow on one thread, so identical configs give identical frames; byte identity of the corpus then
rests on ``fvc.io.encode.write_video`` writing identical bytes for identical frames.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from fvc.data.render import render_scene
from fvc.data.synth_config import FAMILY_NAMES, HELDOUT_FAMILY_NAMES, KNOWN_FAMILIES, SynthConfig
from fvc.io.atomic import atomic_write
from fvc.io.encode import write_image, write_video
from fvc.manipulations import apply_manipulation, get_manipulation

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

SAMPLE_COLUMNS: tuple[str, ...] = ("path", "label", "group", "family")
"""Columns of ``samples.csv``."""

# Third entry of the manipulation seed: any constant other than a scene-rng entry would do; it keeps the
# manipulation stream independent of the scene stream so a change to the renderer's draws does not
# silently change which manipulation parameters a scene gets (and vice versa).
_MANIPULATION_STREAM = 0x6D616E69
# Likewise for the per-scene encoder settings.
_CODEC_STREAM = 0x636F6463


def manipulate(
    frames: np.ndarray,
    family: str,
    rng: np.random.Generator,
    donor: np.ndarray | None = None,
) -> np.ndarray:
    """Return a manipulated copy of ``frames`` (``(T, H, W, 3)`` uint8); shape and dtype are kept.

    ``family`` is any registered family (:func:`fvc.manipulations.get_manipulation`). ``donor`` reaches
    only a family that pastes another video in (``splice``): frames of another scene (any size and length;
    resized and cycled to fit). Without one, ``splice`` takes a time-reversed, displaced copy of ``frames``.
    """
    return apply_manipulation(frames, family, rng, donor)


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
    donor = render_scene((scene + 1) % cfg.scenes, cfg) if get_manipulation(family).uses_donor and cfg.scenes > 1 else None
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


def _still_scenes(scenes: int, stills: int) -> frozenset[int]:
    # Spread over the corpus rather than the first few scenes, so stills cover several families and sizes.
    return frozenset((k * scenes) // stills for k in range(stills))
