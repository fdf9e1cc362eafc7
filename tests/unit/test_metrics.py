"""Metrics agree with scikit-learn; EER matches hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from fvc.evaluate.compare import collect_metrics, summarise
from fvc.evaluate.metrics import binary_metrics, equal_error_rate
from fvc.io.atomic import write_json


def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    m = binary_metrics(y, s)
    pred = (s >= 0.5).astype(int)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert m["average_precision"] == pytest.approx(skm.average_precision_score(y, s))


def test_eer_known_cases():
    assert equal_error_rate(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == pytest.approx(0.0)
    assert equal_error_rate(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])) == pytest.approx(1.0)
    # One negative above one positive out of 4 each: FPR = FNR = 0.25 at the crossing threshold.
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.6, 0.8, 0.85, 0.9])
    assert equal_error_rate(y, s) == pytest.approx(0.25)


def test_single_class_gives_nan_ranking_metrics():
    m = binary_metrics(np.array([1, 1]), np.array([0.2, 0.9]))
    assert np.isnan(m["roc_auc"]) and m["accuracy"] == 0.5


def test_summary_mean_and_std_over_folds(tmp_path):
    paths = []
    for fold, auc in enumerate([0.6, 0.8]):
        level = {k: 0.5 for k in ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "average_precision", "eer")}
        record = {"model": "m", "fold": fold, "n_val_videos": 10, "video": {**level, "roc_auc": auc}, "clip": {**level, "roc_auc": auc}}
        write_json(tmp_path / f"{fold}.json", record)
        paths.append(tmp_path / f"{fold}.json")
    table = collect_metrics(paths)
    assert len(table) == 4
    summary = summarise(table).set_index("model")
    assert summary.loc["m", "roc_auc_mean"] == pytest.approx(0.7)
    assert summary.loc["m", "roc_auc_std"] == pytest.approx(np.std([0.6, 0.8], ddof=1), abs=1e-6)
    assert summary.loc["m", "folds"] == 2
