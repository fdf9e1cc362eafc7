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

__all__ = ["FoldFit", "fit_fold"]

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
    model.fit(train[columns].to_numpy(np.float64), train["label"].to_numpy())
    fake_column = list(model.classes_).index(1)
    scores = model.predict_proba(val[columns].to_numpy(np.float64))[:, fake_column]
    predictions = pd.DataFrame(
        {"video_id": val["video_id"].to_numpy(), "copy": val["copy"].to_numpy(), "fold": fold,
         "label": val["label"].to_numpy(), "score": scores}  # fmt: skip
    )
    return FoldFit(model=model, predictions=predictions, feature_names=columns)
