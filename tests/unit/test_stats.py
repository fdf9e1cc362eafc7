"""Paired AUC comparison on constructed cases: identical models, a clearly better model, too few folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fvc.evaluate.stats import paired_auc_comparison, weighted_auc


def _scores(n_folds: int, models: dict[str, float], n_per_class: int = 12, seed: int = 0) -> pd.DataFrame:
    """Video-level scores: per model, fakes score higher by ``separation`` (0 = random)."""
    rng = np.random.default_rng(seed)
    rows = []
    for fold in range(n_folds):
        labels = np.repeat([0, 1], n_per_class)
        noise = rng.random(len(labels))
        for model, separation in models.items():
            jitter = rng.normal(0, 0.05, len(labels))
            score = np.clip(noise * (1 - separation) + labels * separation + jitter, 0, 1)
            rows += [{"model": model, "fold": fold, "video_id": f"v{fold}_{i}", "label": int(y), "score": float(s)}
                     for i, (y, s) in enumerate(zip(labels, score, strict=True))]  # fmt: skip
    return pd.DataFrame(rows)


def test_weighted_auc_matches_sklearn_with_ties_and_weights():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.random(60), 1)  # many ties
    weights = rng.integers(0, 4, 60).astype(float)
    pos, neg = labels == 1, labels == 0
    ours = weighted_auc(scores[pos], scores[neg], weights[pos][None], weights[neg][None])[0]
    assert ours == pytest.approx(roc_auc_score(labels, scores, sample_weight=weights))
    unweighted = weighted_auc(scores[pos], scores[neg], np.ones((1, pos.sum())), np.ones((1, neg.sum())))[0]
    assert unweighted == pytest.approx(roc_auc_score(labels, scores))


def test_identical_models_differ_by_zero_with_a_ci_containing_zero():
    scores = _scores(5, {"a": 0.3})
    twin = scores.assign(model="b")
    table = paired_auc_comparison(pd.concat([scores, twin]), n_boot=300)
    row = table.iloc[0]
    assert (row["model_a"], row["model_b"], row["n_folds"]) == ("a", "b", 5)
    assert row["auc_diff"] == 0.0 and row["ci_low"] <= 0.0 <= row["ci_high"]
    assert all(row[f"diff_fold_{k}"] == 0.0 for k in range(5))
    assert np.isnan(row["wilcoxon_p"]) and "all fold differences are zero" in row["note"]


def test_clearly_better_model_has_ci_above_zero_and_small_p():
    scores = _scores(6, {"good": 0.8, "random": 0.0})
    row = paired_auc_comparison(scores, n_boot=500, seed=1).iloc[0]
    assert (row["model_a"], row["model_b"]) == ("good", "random")
    assert row["ci_low"] > 0.0 and row["auc_diff"] > row["ci_low"]
    assert row["wilcoxon_p"] == pytest.approx(2 / 2**6)  # exact test, all six differences positive
    assert row["note"] == ""
    # The per-fold differences are the folds' scikit-learn AUCs subtracted.
    for fold, group in scores.groupby("fold"):
        good, rand = (group[group["model"] == m] for m in ("good", "random"))
        expected = roc_auc_score(good["label"], good["score"]) - roc_auc_score(rand["label"], rand["score"])
        assert row[f"diff_fold_{fold}"] == pytest.approx(expected, abs=1e-6)


def test_fewer_than_five_folds_gives_nan_p_with_a_note_but_still_a_ci():
    row = paired_auc_comparison(_scores(3, {"good": 0.8, "random": 0.0}), n_boot=200).iloc[0]
    assert np.isnan(row["wilcoxon_p"]) and "needs >= 5 folds, have 3" in row["note"]
    assert row["ci_low"] > 0.0


def test_bootstrap_is_seeded_and_deterministic():
    scores = _scores(3, {"a": 0.3, "b": 0.2, "c": 0.0})
    first = paired_auc_comparison(scores, n_boot=200, seed=5)
    pd.testing.assert_frame_equal(first, paired_auc_comparison(scores, n_boot=200, seed=5))
    pairs = list(first[["model_a", "model_b"]].itertuples(index=False, name=None))
    assert pairs == [("a", "b"), ("a", "c"), ("b", "c")]
    # A pair's interval does not depend on which other models were compared.
    alone = paired_auc_comparison(scores[scores["model"] != "c"], n_boot=200, seed=5)
    pd.testing.assert_frame_equal(alone.iloc[[0]].reset_index(drop=True), first.iloc[[0]].reset_index(drop=True))


def test_one_class_fold_is_skipped_and_noted():
    scores = _scores(3, {"a": 0.5, "b": 0.0})
    scores = scores[~((scores["fold"] == 2) & (scores["label"] == 0))]
    row = paired_auc_comparison(scores, n_boot=100).iloc[0]
    assert row["n_folds"] == 2 and "fold 2 skipped: one class" in row["note"]
    assert np.isnan(row["diff_fold_2"])


def test_single_model_gives_an_empty_table_with_columns():
    table = paired_auc_comparison(_scores(2, {"only": 0.5}), n_boot=10)
    assert table.empty and {"model_a", "model_b", "ci_low", "ci_high", "wilcoxon_p", "note"} <= set(table.columns)
