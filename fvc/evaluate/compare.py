"""Cross-model comparison: every fold's metrics in one long table, then mean and std per model."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from fvc.evaluate.metrics import METRIC_NAMES

__all__ = ["collect_metrics", "summarise"]

LEVELS = ("video", "clip")


def collect_metrics(metrics_paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per model x fold x level, sorted, from each fold's ``metrics.json``."""
    rows = []
    for path in metrics_paths:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        for level in LEVELS:
            rows.append({"model": record["model"], "fold": int(record["fold"]), "level": level,
                         "n_val_videos": record["n_val_videos"], **{m: record[level][m] for m in METRIC_NAMES}})  # fmt: skip
    columns = ["model", "fold", "level", "n_val_videos", *METRIC_NAMES]
    return pd.DataFrame(rows, columns=columns).sort_values(["model", "level", "fold"], kind="stable").reset_index(drop=True)


def summarise(metrics: pd.DataFrame, level: str = "video") -> pd.DataFrame:
    """Mean and standard deviation over folds per model at ``level``, best ROC-AUC first."""
    table = metrics[metrics["level"] == level]
    grouped = table.groupby("model", sort=True)[list(METRIC_NAMES)]
    means = grouped.mean().add_suffix("_mean")
    stds = grouped.std(ddof=1).fillna(0.0).add_suffix("_std")
    summary = pd.concat([grouped.size().rename("folds"), means, stds], axis=1)
    ordered = ["folds"] + [f"{m}_{s}" for m in METRIC_NAMES for s in ("mean", "std")]
    summary = summary[ordered].sort_values(["roc_auc_mean", "f1_mean"], ascending=False, kind="stable")
    return summary.reset_index().round(6)
