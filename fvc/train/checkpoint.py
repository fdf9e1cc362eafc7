"""Training checkpoints: everything needed to continue an interrupted run exactly, saved atomically.

Checkpoints live outside Snakemake's declared outputs (``<results>/checkpoints/<model>/fold_<k>/last.pt``),
so a failed or killed job keeps them and its restart resumes. They hold only tensors and plain Python
values, so they load with ``torch.load(weights_only=True)``; a fingerprint of the model, data and
training settings (:func:`fvc.fingerprint.fingerprint`) guards against resuming a run whose configuration has changed since.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fvc.io.atomic import atomic_path

__all__ = ["load_checkpoint", "restore_rng", "rng_state", "save_checkpoint"]

log = logging.getLogger(__name__)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, expected_fingerprint: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it exists, loads and matches ``expected_fingerprint``; else None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged file must not stop training from scratch
        log.warning("ignoring unreadable checkpoint %s (%s)", path, exc)
        return None
    if state.get("fingerprint") != expected_fingerprint:
        log.warning("ignoring checkpoint %s: made with other settings or data", path)
        return None
    return state


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) generator states as checkpoint-safe values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
