"""Cross-validation folds: stratified by label, grouped so relatives never straddle folds.

Splits are made on source videos only. Anything derived from a video later (augmented copies, clips)
inherits its fold through ``video_id``, so nothing derived from a validation video can reach training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

__all__ = ["FOLD_COLUMNS", "fold_rows", "inner_validation", "make_folds", "sample_groups", "train_val_ids"]

FOLD_COLUMNS = ["video_id", "group", "label", "fold"]


def make_folds(videos: pd.DataFrame, n_folds: int, seed: int) -> pd.DataFrame:
    """Assign each video a fold in ``0..n_folds-1``; same inputs and seed give the same assignment.

    Rows are sorted by ``video_id`` first so the result does not depend on the order of the index.
    """
    if n_folds < 2:
        raise ValueError(f"split.folds must be at least 2, got {n_folds}")
    table = videos[["video_id", "group", "label"]].sort_values("video_id", kind="stable").reset_index(drop=True)
    n_groups = table["group"].nunique()
    if n_groups < n_folds:
        raise ValueError(f"cannot make {n_folds} folds from {n_groups} group(s): lower split.folds or add videos")
    counts = table["label"].value_counts()
    for label in ("real", "fake"):
        if counts.get(label, 0) == 0:
            raise ValueError(f"no '{label}' videos left after indexing; both classes are needed to train")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold = np.full(len(table), -1, dtype=np.int64)
    y = (table["label"] == "fake").to_numpy(dtype=np.int64)
    for k, (_, val_idx) in enumerate(splitter.split(np.zeros(len(table)), y, groups=table["group"].to_numpy())):
        fold[val_idx] = k
    table["fold"] = fold
    return table[FOLD_COLUMNS]


def train_val_ids(folds: pd.DataFrame, fold: int) -> tuple[pd.Index, pd.Index]:
    """``video_id``s for training and validation of ``fold``."""
    if fold not in set(folds["fold"]):
        raise ValueError(f"fold {fold} not in splits (have {sorted(set(folds['fold']))})")
    is_val = folds["fold"] == fold
    return pd.Index(folds.loc[~is_val, "video_id"]), pd.Index(folds.loc[is_val, "video_id"])


def fold_rows(rows: pd.DataFrame, folds: pd.DataFrame, fold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split clip-level ``rows`` (``video_id``, ``copy``, ...) for ``fold``.

    Training gets every copy of every training video; validation gets only the untouched copy 0 of each
    validation video. An augmented copy follows its source video's fold, so nothing derived from a
    validation video can reach training.
    """
    train_ids, val_ids = train_val_ids(folds, fold)
    train = rows[rows["video_id"].isin(train_ids)]
    val = rows[rows["video_id"].isin(val_ids) & (rows["copy"] == 0)]
    return train, val


def inner_validation(folds: pd.DataFrame, fold: int, fraction: float, seed: int) -> tuple[pd.Index, pd.Index]:
    """Split the training videos of ``fold`` again, by group and stratified, into (fit, early-stopping) ids.

    Early stopping and threshold choice must not look at the held-out fold, or its scores would be
    optimistic; they use this inner split of the training videos instead.
    """
    if not 0.0 < fraction < 0.5:
        raise ValueError(f"inner_val_fraction must be in (0, 0.5), got {fraction}")
    train_ids, _ = train_val_ids(folds, fold)
    table = folds[folds["video_id"].isin(train_ids)].sort_values("video_id", kind="stable").reset_index(drop=True)
    n_groups = table["group"].nunique()
    if n_groups < 2:
        raise ValueError(f"fold {fold}: {n_groups} training group(s) leave nothing for an inner validation split")
    # Few groups: fewer, larger inner folds rather than failing (a tiny corpus still trains).
    n_splits = min(max(2, round(1.0 / fraction)), n_groups)
    y = (table["label"] == "fake").to_numpy(dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + 1000 * (fold + 1))
    fit_idx, val_idx = next(splitter.split(np.zeros(len(table)), y, groups=table["group"].to_numpy()))
    return pd.Index(table.loc[fit_idx, "video_id"]), pd.Index(table.loc[val_idx, "video_id"])


def sample_groups(videos: pd.DataFrame, fraction: float, seed: int, min_groups: int = 2) -> pd.DataFrame:
    """Whole groups, about ``fraction`` of each label's groups (a group counts under its majority label).

    The stratified sample a hyper-parameter search runs on: relatives stay together, both classes stay in,
    and the same videos, fraction and seed give the same sample. Each label keeps at least ``min_groups``
    groups where it has them, so the sample can still be cross-validated.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"sample fraction must be in (0, 1], got {fraction}")
    table = videos.sort_values("video_id", kind="stable").reset_index(drop=True)
    if fraction == 1.0:
        return table
    majority = table.groupby("group", sort=True)["label"].agg(lambda labels: labels.value_counts().sort_index().idxmax())
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for label in sorted(majority.unique()):
        groups = majority.index[majority == label].to_numpy()
        take = min(len(groups), max(min_groups, int(np.ceil(fraction * len(groups)))))
        chosen += list(rng.permutation(groups)[:take])
    return table[table["group"].isin(chosen)].reset_index(drop=True)
