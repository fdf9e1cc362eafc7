"""Binary detection metrics; the positive class is ``fake`` (label 1), scores are P(fake)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

__all__ = ["METRIC_NAMES", "binary_metrics", "equal_error_rate"]

METRIC_NAMES = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "eer")


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """All of ``METRIC_NAMES`` for 0/1 ``labels`` and scores in [0, 1]; ranking metrics are NaN for one class."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"labels and scores must be equal-length non-empty vectors, got {y.shape} and {s.shape}")
    pred = (s >= threshold).astype(np.int64)
    both = len(np.unique(y)) == 2
    return {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)) if both else float("nan"),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y, s)) if both else float("nan"),
        "average_precision": float(skm.average_precision_score(y, s)) if both else float("nan"),
        "eer": equal_error_rate(y, s) if both else float("nan"),
    }


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """The error rate where false-positive and false-negative rates meet (linear interpolation on the ROC)."""
    fpr, tpr, _ = skm.roc_curve(labels, scores)
    fnr = 1.0 - tpr
    diff = fpr - fnr
    crossing = int(np.argmax(diff >= 0))
    if crossing == 0:
        return float(fpr[0])
    # Interpolate between the two ROC points that bracket fpr == fnr.
    d0, d1 = diff[crossing - 1], diff[crossing]
    w = d0 / (d0 - d1) if d1 != d0 else 0.0
    return float(fpr[crossing - 1] + w * (fpr[crossing] - fpr[crossing - 1]))
