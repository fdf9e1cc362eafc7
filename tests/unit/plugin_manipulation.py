"""A manipulation plugin as an installed package would ship it (tests/unit/test_manipulations.py loads it)."""

import numpy as np

from fvc.manipulations import register_manipulation


@register_manipulation("plugged_invert", temporal=False, yields_mask=False)
def invert(clip: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
    """The photographic negative."""
    return (255 - clip).astype(np.uint8)
