"""Fit a scikit-learn model on one fold's training videos and score its validation videos."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fvc.data.splits import fold_rows
from fvc.features.extract import feature_columns
from fvc.models import create

__all__ = ["FoldFit", "fit_estimator", "fit_fold"]

log = logging.getLogger(__name__)


@dataclass
class FoldFit:
    model: Any
    predictions: pd.DataFrame  # video_id, copy, fold, label (1 = fake), score (P(fake))
    feature_names: list[str]


def fit_fold(
    name: str, params: Mapping[str, Any], features: pd.DataFrame, folds: pd.DataFrame, fold: int, seed: int, n_jobs: int = 1
) -> FoldFit:
    """Train on every fold but ``fold`` (all copies), predict ``fold`` (untouched copies only)."""
    labels = folds.set_index("video_id")["label"].eq("fake").astype(np.int64)
    groups = folds.set_index("video_id")["group"]
    table = features[features["video_id"].isin(labels.index)].copy()
    table["label"] = table["video_id"].map(labels)
    columns = feature_columns(features)
    train, val = fold_rows(table, folds, fold)
    if train["label"].nunique() < 2:
        raise ValueError(f"fold {fold}: training set has a single class; add videos or lower split.folds")
    if val.empty:
        raise ValueError(f"fold {fold}: no validation rows with features")
    model = create(name, seed=seed, n_jobs=n_jobs, **params)
    log.info("fold %d: fitting %s on %d rows x %d features, validating on %d rows", fold, name, len(train), len(columns), len(val))
    fit_estimator(model, train[columns].to_numpy(np.float64), train["label"].to_numpy(), groups=train["video_id"].map(groups).to_numpy())
    fake_column = list(model.classes_).index(1)
    scores = model.predict_proba(val[columns].to_numpy(np.float64))[:, fake_column]
    predictions = pd.DataFrame(
        {"video_id": val["video_id"].to_numpy(), "copy": val["copy"].to_numpy(), "fold": fold,
         "label": val["label"].to_numpy(), "score": scores}  # fmt: skip
    )
    return FoldFit(model=model, predictions=predictions, feature_names=columns)


def fit_estimator(model: Any, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> Any:
    """``model.fit(x, y)``, with any inner cross-validation made group-aware and sized to the data.

    An inner stratified K-fold (the SVM's Platt calibration) is replaced by the splits of a
    ``StratifiedGroupKFold`` over ``groups``: a fake and the real it was made from (and the augmented copies of
    one video) are near-duplicates, and calibrating on one while the other is in the calibration model's
    training part inverts the calibration (a nearest-neighbour-like SVM scores a fake by its real twin).
    K is lowered to what the smaller class's groups allow (at least 2) and the change is logged, rather than
    the job failing.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(y, dtype=np.int64)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    smallest = min((len(np.unique(groups[y == label])) for label in (0, 1)), default=0) if len(y) else 0
    for key, value in model.get_params(deep=True).items():
        if not isinstance(value, StratifiedKFold):
            continue
        n_splits = value.n_splits
        if n_splits > smallest:
            if smallest < 2:
                raise ValueError(f"{key}: a class has {smallest} training group(s); {n_splits}-fold calibration needs 2 or more")
            log.warning("%s: %d-fold inner CV lowered to %d (the smaller class has %d groups)", key, n_splits, smallest, smallest)
            n_splits = smallest
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=value.shuffle, random_state=value.random_state)
        model.set_params(**{key: list(splitter.split(x, y, groups))})
    return model.fit(x, y)
