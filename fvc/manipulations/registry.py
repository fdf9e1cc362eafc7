"""The manipulation registry: every family that turns real frames into a fake, by name, with its metadata.

Modelled on timm's ``register_model``: a family is one function registered with a decorator,

    @register_manipulation("posterise", temporal=False, yields_mask=False, params={"levels": (2, 6)})
    def posterise(frames, rng, donor):
        ...

taking ``(T, H, W, 3)`` uint8 frames, a :class:`numpy.random.Generator` (its only source of randomness) and,
for families that paste another video in, a ``donor`` clip; it returns frames of the same shape and dtype.
Nothing here knows the synthetic renderer, so the corpus writer (:mod:`fvc.data.synth`) and a stage that
makes fakes from a user's own real videos draw from the same families.

fvc's own families (:mod:`fvc.manipulations.families`) register on first lookup. A family of your own
registers from your module with the decorator, or from an installed package through the entry-point group
``fvc.manipulations`` (``[project.entry-points."fvc.manipulations"] posterise = "mypkg.fakes"``: the
module is imported on first lookup and registers itself), without editing fvc.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "ENTRY_POINT_GROUP", "Manipulation", "ManipulationSpec", "apply_manipulation", "get_manipulation", "list_manipulations",
    "register_manipulation", "unregister_manipulation",
]  # fmt: skip

ENTRY_POINT_GROUP = "fvc.manipulations"
Manipulation = Callable[[np.ndarray, np.random.Generator, "np.ndarray | None"], np.ndarray]

# fvc's own families; imported on first lookup so that importing the registry stays cheap.
_BUILTIN_MODULES = ("fvc.manipulations.families",)


@dataclass(frozen=True)
class ManipulationSpec:
    """One registered family and what a caller needs to know before applying it."""

    name: str
    function: Manipulation
    temporal: bool  # acts across frames (flicker, interpolation) rather than within each frame
    yields_mask: bool  # edits a region (a blended face, an inpainted object) rather than the whole frame
    uses_donor: bool = False  # pastes in frames of another video when given one
    params: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # ranges its draws come from
    description: str = ""


class _Registry:
    """Name -> spec, loaded with fvc's families and the installed plugins on first lookup."""

    def __init__(self) -> None:
        self.specs: dict[str, ManipulationSpec] = {}
        self.loaded = False

    def load(self) -> None:
        if self.loaded:
            return
        self.loaded = True  # first: a plugin that looks a family up while it registers must not recurse
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                point.load()
            except Exception as exc:
                raise ImportError(f"manipulation plugin '{point.name}' ({point.value}) failed to load: {exc}") from exc


_REGISTRY = _Registry()


def register_manipulation(
    name: str,
    *,
    temporal: bool,
    yields_mask: bool,
    uses_donor: bool = False,
    params: Mapping[str, tuple[float, float]] | None = None,
) -> Callable[[Manipulation], Manipulation]:
    """Register the decorated function as family ``name``; a second family of that name is an error."""

    def decorate(function: Manipulation) -> Manipulation:
        if name in _REGISTRY.specs:
            raise ValueError(f"manipulation family '{name}' is already registered ({_REGISTRY.specs[name].function.__module__})")
        doc = (function.__doc__ or "").strip().splitlines()
        _REGISTRY.specs[name] = ManipulationSpec(
            name=name, function=function, temporal=temporal, yields_mask=yields_mask, uses_donor=uses_donor,
            params=MappingProxyType(dict(params or {})), description=doc[0] if doc else "",
        )  # fmt: skip
        return function

    return decorate


def unregister_manipulation(name: str) -> None:
    """Remove family ``name`` (a test's own family, once it is done with it)."""
    _REGISTRY.specs.pop(name, None)


def list_manipulations() -> list[str]:
    """Every registered family, in registration order (fvc's own first)."""
    _REGISTRY.load()
    return list(_REGISTRY.specs)


def get_manipulation(name: str) -> ManipulationSpec:
    _REGISTRY.load()
    try:
        return _REGISTRY.specs[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown manipulation family {name!r}; known families: {', '.join(_REGISTRY.specs)}") from None


def apply_manipulation(frames: np.ndarray, name: str, rng: np.random.Generator, donor: np.ndarray | None = None) -> np.ndarray:
    """Family ``name`` applied to ``frames`` (``(T, H, W, 3)`` uint8): a new array of the same shape and dtype.

    ``donor`` reaches only a family that ``uses_donor``; the others never see it.
    """
    spec = get_manipulation(name)
    frames = check_frames("frames", frames)
    if donor is not None:
        donor = check_frames("donor", donor)
    out = spec.function(frames, rng, donor if spec.uses_donor else None)
    if not isinstance(out, np.ndarray) or out.shape != frames.shape or out.dtype != np.uint8:
        got = f"{out.shape} {out.dtype}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"manipulation family '{name}' returned {got}, not frames of {frames.shape} uint8")
    return out


def check_frames(name: str, frames: Any) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{name} must be a (T, H, W, 3) uint8 array, got {frames.shape} {frames.dtype}")
    if frames.shape[0] < 1 or frames.shape[1] < 2 or frames.shape[2] < 2:
        raise ValueError(f"{name} is too small: {frames.shape}")
    return frames
