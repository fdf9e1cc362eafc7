"""Degenerate results are named in words: one predicted class, a loss that never fell, AUC below chance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from fvc.evaluate.compare import collect_metrics, summarise
from fvc.evaluate.degenerate import fold_warnings
from fvc.evaluate.metrics import binary_metrics

LABELS = np.array([0, 0, 0, 1, 1, 1])


def history(losses: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"epoch": range(len(losses)), "train_loss": losses})


def test_a_healthy_fold_has_no_warnings() -> None:
    scores = np.array([0.1, 0.3, 0.6, 0.4, 0.8, 0.9])
    assert fold_warnings(LABELS, scores, roc_auc=0.89, history=history([0.7, 0.5, 0.3])) == []


def test_single_class_and_constant_scores() -> None:
    (warning,) = fold_warnings(LABELS, np.full(6, 0.3) + np.arange(6) * 1e-3, roc_auc=1.0)
    assert "single class" in warning and "called real" in warning
    assert any("called fake" in w for w in fold_warnings(LABELS, np.full(6, 0.7), roc_auc=0.5))
    # Noise of a few 1e-6 around 0.5 (a logistic regression regularised to nothing) is one constant, even
    # when the 0.5 threshold splits it into two "classes" and its AUC looks fine.
    noise = 0.5 + np.array([-4e-6, 1e-6, 2e-7, -3e-6, 5e-7, 0.0])
    (constant,) = fold_warnings(LABELS, noise, roc_auc=0.68)
    assert constant.startswith("constant score 0.500") and "spread 5.0e-06" in constant
    assert fold_warnings(LABELS, 0.5 + np.array([-1e-3, 1e-3, 2e-3, -2e-3, 1e-3, 3e-3]), roc_auc=0.7) == []


def test_training_loss_that_never_fell_and_no_epochs() -> None:
    scores = np.array([0.1, 0.3, 0.6, 0.4, 0.8, 0.9])
    (flat,) = fold_warnings(LABELS, scores, roc_auc=0.9, history=history([0.70, 0.70, 0.71, 0.695]))
    assert flat.startswith("training loss never fell (0.700 -> 0.700 -> 0.710 -> 0.695")
    assert fold_warnings(LABELS, scores, roc_auc=0.9, history=history([0.7, 0.6])) == []
    (none,) = fold_warnings(LABELS, scores, roc_auc=0.9, history=history([]))
    assert "no training epoch ran" in none


def test_below_chance_auc() -> None:
    scores = np.array([0.9, 0.8, 0.6, 0.4, 0.2, 0.1])
    auc = binary_metrics(LABELS, scores)["roc_auc"]
    (warning,) = fold_warnings(LABELS, scores, roc_auc=auc)
    assert warning == "video ROC-AUC 0.000 is below chance (0.5)"


def test_summary_names_each_flagged_fold(tmp_path) -> None:
    metrics = {"accuracy": 0.5, "balanced_accuracy": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0, "roc_auc": 0.5,
               "average_precision": 0.5, "eer": 0.5}  # fmt: skip
    paths = []
    for model, fold, warnings in [("a", 0, []), ("a", 1, []), ("b", 0, ["training loss never fell (0.7 -> 0.7)"]), ("b", 1, [])]:
        path = tmp_path / f"{model}{fold}.json"
        path.write_text(json.dumps({"model": model, "fold": fold, "n_val_videos": 6, "video": metrics, "clip": metrics, "warnings": warnings}))
        paths.append(path)
    summary = summarise(collect_metrics(paths)).set_index("model")
    assert summary.loc["a", "warnings"] == ""
    assert summary.loc["b", "warnings"] == "fold 0: training loss never fell (0.7 -> 0.7)"
