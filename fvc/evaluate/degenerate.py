"""Results that are not results: a model that predicts one class, never learnt, or ranks worse than chance.

A row of 0.500 accuracy in a comparison table reads like a weak model; it is usually a broken one (a
learning rate of 0, no epochs, a constant prediction). Each fold's ``metrics.json`` therefore carries a
``warnings`` list in words, and the comparison, registry and report repeat it, so such a row is never
silent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LOSS_DROP", "SCORE_SPREAD", "fold_warnings"]

LOSS_DROP = 0.02
"""A training loss that never gets this fraction below its first epoch's value 'never fell'."""

SCORE_SPREAD = 1e-4
"""Scores that all lie within this of each other are one constant: a logistic regression regularised to
nothing still spreads its P(fake) over a few 1e-6 around 0.5, and a 0.5 threshold then splits that noise
into two 'classes'."""


def fold_warnings(labels: np.ndarray, scores: np.ndarray, *, roc_auc: float, threshold: float = 0.5,
                  history: pd.DataFrame | None = None) -> list[str]:  # fmt: skip
    """Warnings for one fold's video-level ``scores`` (P(fake)) and, for torch models, its ``history``."""
    warnings: list[str] = []
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) and ((scores >= threshold).all() or (scores < threshold).all()):
        side = "fake" if (scores >= threshold).all() else "real"
        warnings.append(f"predicts a single class: every validation video is called {side} (scores {scores.min():.3f}-{scores.max():.3f})")
    elif len(scores) and np.ptp(scores) < SCORE_SPREAD:
        warnings.append(f"constant score {scores.mean():.3f} for every validation video (spread {np.ptp(scores):.1e})")
    if history is not None:
        losses = history["train_loss"].dropna().to_numpy(np.float64) if "train_loss" in history else np.array([])
        if len(losses) == 0:
            warnings.append("no training epoch ran: the model is its initialisation")
        elif len(losses) == 1 or losses[1:].min() > losses[0] * (1.0 - LOSS_DROP):
            trail = " -> ".join(f"{x:.3f}" for x in losses[: min(len(losses), 4)]) + (" ..." if len(losses) > 4 else "")
            warnings.append(f"training loss never fell ({trail})")
    if roc_auc == roc_auc and roc_auc < 0.5:
        warnings.append(f"video ROC-AUC {roc_auc:.3f} is below chance (0.5)")
    return warnings
