"""The synthetic corpus's settings (config key ``synth``): :class:`SynthConfig`, validated on construction.

The synth domain's config, on its own so that the renderer (:mod:`fvc.data.render`), the corpus writer
(:mod:`fvc.data.synth`) and the config check (:mod:`fvc.settings`) read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fvc.manipulations import list_manipulations
from fvc.manipulations.families import MIN_SIDE

__all__ = ["FAMILY_NAMES", "HELDOUT_FAMILY_NAMES", "KNOWN_FAMILIES", "SynthConfig", "check_int"]

FAMILY_NAMES: tuple[str, ...] = ("splice", "upsample", "double_compression", "flicker", "interpolation")
"""Manipulation families, in the order they are cycled over scenes by default."""

HELDOUT_FAMILY_NAMES: tuple[str, ...] = ("regrain",)
"""Families that no default training corpus contains: the shipped test set's unseen manipulation."""

KNOWN_FAMILIES: tuple[str, ...] = FAMILY_NAMES + HELDOUT_FAMILY_NAMES
"""fvc's own families; a config may also name any registered by the user (:mod:`fvc.manipulations`)."""



def check_int(field: str, value: object, low: int, high: int | None = None) -> None:
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
            if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < MIN_SIDE or side % 2:
                raise ValueError(f"sizes entries must be even integers >= {MIN_SIDE} (H.264 yuv420p), got {pair!r}")
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
    known = list_manipulations()  # fvc's own and any registered by the user or a plugin
    unknown = [name for name in out if name not in known]
    if unknown:
        raise ValueError(f"families has unknown entries {unknown}; known families: {', '.join(known)}")
    return out



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
        check_int("scenes", self.scenes, 1)
        check_int("frames", self.frames, 2)
        check_int("fps", self.fps, 1)
        check_int("crf", self.crf, 0, 51)
        check_int("crf_spread", self.crf_spread, 0, 25)
        if self.crf - self.crf_spread < 0 or self.crf + self.crf_spread > 51:
            raise ValueError(f"crf_spread must keep crf +- crf_spread in [0, 51], got crf={self.crf}, crf_spread={self.crf_spread}")
        check_int("stills", self.stills, 0, self.scenes)
        check_int("seed", self.seed, 0)
        if not isinstance(self.images_only, (bool, np.bool_)):
            raise ValueError(f"images_only must be true or false, got {self.images_only!r}")

