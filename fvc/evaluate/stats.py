"""Paired comparison of models over the same cross-validation folds: is one model's ROC-AUC really higher?

Mean ± std per model (``summary.csv``) cannot say whether a gap between two models is more than fold noise,
because both models were scored on the same validation videos and their errors are correlated. Pairing
removes that shared variation: per fold, the difference of the two models' video-level AUCs on the same
videos; over folds, a Wilcoxon signed-rank test of those differences (needs at least 5 folds to be able to
reach p < 0.05 at all), and a bootstrap confidence interval that resamples the validation videos within
each fold, once per replicate for both models (so it works with 2 or 3 folds too).
"""

from __future__ import annotations

import itertools
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["MIN_WILCOXON_FOLDS", "N_BOOTSTRAP", "paired_auc_comparison", "weighted_auc"]

log = logging.getLogger(__name__)

MIN_WILCOXON_FOLDS = 5
N_BOOTSTRAP = 2000
_CHUNK = 256  # bootstrap replicates drawn and scored at a time: bounds memory for folds of any size


def weighted_auc(pos: np.ndarray, neg: np.ndarray, w_pos: np.ndarray, w_neg: np.ndarray) -> np.ndarray:
    """ROC-AUC (ties count one half) of positive and negative scores under per-video weights.

    ``w_pos`` is ``(B, n_pos)`` and ``w_neg`` ``(B, n_neg)``: B weightings at once, e.g. bootstrap counts.
    Runs in O(B x n) after one sort instead of comparing every positive with every negative.
    """
    order = np.argsort(neg, kind="stable")
    neg_sorted = neg[order]
    below = np.searchsorted(neg_sorted, pos, side="left")
    up_to = np.searchsorted(neg_sorted, pos, side="right")
    cum = np.zeros((w_neg.shape[0], len(neg) + 1), dtype=np.float64)
    np.cumsum(w_neg[:, order], axis=1, out=cum[:, 1:])
    wins = cum[:, below] + 0.5 * (cum[:, up_to] - cum[:, below])
    return (w_pos * wins).sum(axis=1) / (w_pos.sum(axis=1) * w_neg.sum(axis=1))


def _fold_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Unweighted AUC of one fold, by the same rule (ties = 1/2) as the bootstrap replicates."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(weighted_auc(pos, neg, np.ones((1, len(pos))), np.ones((1, len(neg))))[0])


@dataclass(frozen=True)
class _Fold:
    fold: int
    labels: np.ndarray
    a: np.ndarray
    b: np.ndarray


def _paired_folds(scores: pd.DataFrame, model_a: str, model_b: str, notes: list[str]) -> list[_Fold]:
    """Per fold, the videos both models scored, with both score vectors aligned; one-class folds noted."""
    a = scores[scores["model"] == model_a][["fold", "video_id", "label", "score"]]
    b = scores[scores["model"] == model_b][["fold", "video_id", "score"]]
    both = a.merge(b, on=["fold", "video_id"], suffixes=("_a", "_b")).sort_values(["fold", "video_id"])
    folds = []
    for fold, group in both.groupby("fold", sort=True):
        labels = group["label"].to_numpy(dtype=np.int64)
        if len(np.unique(labels)) < 2:
            notes.append(f"fold {fold} skipped: one class")
            continue
        folds.append(_Fold(int(fold), labels, group["score_a"].to_numpy(np.float64), group["score_b"].to_numpy(np.float64)))
    return folds


def _bootstrap_differences(folds: list[_Fold], n_boot: int, seed: int) -> np.ndarray:
    """Mean over folds of the AUC difference, for ``n_boot`` class-stratified resamples of each fold's videos.

    Stratified (positives and negatives resampled separately) so that every replicate keeps the fold's
    class counts and a defined AUC. A fresh generator per pair makes a pair's interval independent of which
    other models were compared.
    """
    rng = np.random.default_rng(seed)
    total = np.zeros(n_boot, dtype=np.float64)
    for fold in folds:
        pos, neg = fold.labels == 1, fold.labels == 0
        n_pos, n_neg = int(pos.sum()), int(neg.sum())
        for start in range(0, n_boot, _CHUNK):
            size = min(_CHUNK, n_boot - start)
            w_pos = rng.multinomial(n_pos, np.full(n_pos, 1.0 / n_pos), size=size).astype(np.float64)
            w_neg = rng.multinomial(n_neg, np.full(n_neg, 1.0 / n_neg), size=size).astype(np.float64)
            auc_a = weighted_auc(fold.a[pos], fold.a[neg], w_pos, w_neg)
            total[start : start + size] += auc_a - weighted_auc(fold.b[pos], fold.b[neg], w_pos, w_neg)
    return total / len(folds)


def _wilcoxon(diffs: np.ndarray, notes: list[str]) -> float:
    if len(diffs) < MIN_WILCOXON_FOLDS:
        notes.append(f"Wilcoxon needs >= {MIN_WILCOXON_FOLDS} folds, have {len(diffs)}")
        return float("nan")
    if np.allclose(diffs, 0.0, rtol=0.0, atol=1e-12):
        notes.append("all fold differences are zero")
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns that ties/zeros make the exact distribution approximate
        return float(stats.wilcoxon(diffs, zero_method="wilcox", alternative="two-sided").pvalue)


def paired_auc_comparison(
    scores: pd.DataFrame, *, n_boot: int = N_BOOTSTRAP, seed: int = 0, confidence: float = 0.95
) -> pd.DataFrame:
    """One row per pair of models (alphabetical, difference = model_a - model_b) from video-level scores.

    ``scores`` has columns model, fold, video_id, label (1 = fake), score (see
    ``fvc.evaluate.predictions.collect_video_scores``). Columns: model_a, model_b, n_folds, auc_a, auc_b (mean
    over the paired folds), auc_diff (mean per-fold difference), ci_low, ci_high (bootstrap percentile
    interval at ``confidence``), wilcoxon_p, note (why a value is missing), diff_fold_<k> per fold.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    models = sorted(scores["model"].unique())
    all_folds = sorted(int(f) for f in scores["fold"].unique())
    rows = []
    for model_a, model_b in itertools.combinations(models, 2):
        notes: list[str] = []
        folds = _paired_folds(scores, model_a, model_b, notes)
        row: dict[str, object] = {"model_a": model_a, "model_b": model_b, "n_folds": len(folds)}
        per_fold = {}
        if folds:
            auc_a = np.array([_fold_auc(f.labels, f.a) for f in folds])
            auc_b = np.array([_fold_auc(f.labels, f.b) for f in folds])
            diffs = auc_a - auc_b
            per_fold = {f.fold: d for f, d in zip(folds, diffs, strict=True)}
            boot = _bootstrap_differences(folds, n_boot, seed)
            alpha = (1.0 - confidence) / 2.0
            low, high = np.quantile(boot, [alpha, 1.0 - alpha])
            row.update(auc_a=auc_a.mean(), auc_b=auc_b.mean(), auc_diff=diffs.mean(), ci_low=low, ci_high=high)
            row["wilcoxon_p"] = _wilcoxon(diffs, notes)
        else:
            notes.append("no fold with both classes scored by both models")
            row.update(auc_a=np.nan, auc_b=np.nan, auc_diff=np.nan, ci_low=np.nan, ci_high=np.nan, wilcoxon_p=np.nan)
        row["note"] = "; ".join(notes)
        row.update({f"diff_fold_{k}": per_fold.get(k, np.nan) for k in all_folds})
        rows.append(row)
    columns = ["model_a", "model_b", "n_folds", "auc_a", "auc_b", "auc_diff", "ci_low", "ci_high", "wilcoxon_p", "note",
               *(f"diff_fold_{k}" for k in all_folds)]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    numeric = table.select_dtypes("number").columns.drop("n_folds", errors="ignore")
    table[numeric] = table[numeric].astype(np.float64).round(6)
    log.info("paired comparison of %d models: %d pairs, %d bootstrap replicates", len(models), len(table), n_boot)
    return table
