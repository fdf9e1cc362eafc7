"""Fit a scikit-learn model on one fold's training videos and score its validation videos."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fvc.data.splits import fold_rows
from fvc.features.extract import feature_columns
from fvc.models import create

__all__ = ["FoldFit", "fit_fold", "fit_estimator"]

log = logging.getLogger(__name__)


@dataclass
class FoldFit:
    model: Any
    predictions: pd.DataFrame  # video_id, copy, fold, label (1 = fake), score (P(fake))
    feature_names: list[str]


def fit_fold(
    name: str, params: dict[str, Any], features: pd.DataFrame, folds: pd.DataFrame, fold: int, seed: int, n_jobs: int = 1
) -> FoldFit:
    """Train on every fold but ``fold`` (all copies), predict ``fold`` (untouched copies only)."""
    labels = folds.set_index("video_id")["label"].eq("fake").astype(np.int64)
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
    fit_estimator(model, train[columns].to_numpy(np.float64), train["label"].to_numpy())
    fake_column = list(model.classes_).index(1)
    scores = model.predict_proba(val[columns].to_numpy(np.float64))[:, fake_column]
    predictions = pd.DataFrame(
        {"video_id": val["video_id"].to_numpy(), "copy": val["copy"].to_numpy(), "fold": fold,
         "label": val["label"].to_numpy(), "score": scores}  # fmt: skip
    )
    return FoldFit(model=model, predictions=predictions, feature_names=columns)


def fit_estimator(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """``model.fit(x, y)``, with inner cross-validation shrunk to what the smaller class allows.

    An inner stratified K-fold (the SVM's Platt calibration) needs K members of each class; a small corpus or
    an HPO sample can have fewer. K is lowered to the smaller class's count (at least 2) and the change is
    logged, rather than the job failing.
    """
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(np.asarray(y, dtype=np.int64)).min()) if len(y) else 0
    for key, value in model.get_params(deep=True).items():
        if isinstance(value, StratifiedKFold) and value.n_splits > smallest:
            if smallest < 2:
                raise ValueError(f"{key}: a class has {smallest} training sample(s); {value.n_splits}-fold calibration needs 2 or more")
            log.warning("%s: %d-fold inner CV lowered to %d (the smaller class has %d samples)", key, value.n_splits, smallest, smallest)
            model.set_params(**{key: StratifiedKFold(n_splits=smallest, shuffle=value.shuffle, random_state=value.random_state)})
    return model.fit(x, y)
