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
        warnings = "; ".join(record.get("warnings") or ())
        for level in LEVELS:
            rows.append({"model": record["model"], "fold": int(record["fold"]), "level": level,
                         "n_val_videos": record["n_val_videos"], **{m: record[level][m] for m in METRIC_NAMES},
                         "warnings": warnings})  # fmt: skip
    columns = ["model", "fold", "level", "n_val_videos", *METRIC_NAMES, "warnings"]
    return pd.DataFrame(rows, columns=columns).sort_values(["model", "level", "fold"], kind="stable").reset_index(drop=True)


def summarise(metrics: pd.DataFrame, level: str = "video") -> pd.DataFrame:
    """Mean and standard deviation over folds per model at ``level``, best ROC-AUC first."""
    table = metrics[metrics["level"] == level]
    grouped = table.groupby("model", sort=True)[list(METRIC_NAMES)]
    means = grouped.mean().add_suffix("_mean")
    stds = grouped.std(ddof=1).fillna(0.0).add_suffix("_std")
    summary = pd.concat([grouped.size().rename("folds"), means, stds], axis=1)
    ordered = ["folds"] + [f"{m}_{s}" for m in METRIC_NAMES for s in ("mean", "std")]
    summary = summary[ordered].sort_values(["roc_auc_mean", "f1_mean"], ascending=False, kind="stable").round(6)
    # A degenerate fold (one predicted class, a loss that never fell, AUC below chance) is named in words.
    warnings = table.assign(fold=table["fold"].astype(int)).groupby("model", sort=True)[["fold", "warnings"]].apply(_model_warnings)
    summary["warnings"] = warnings.reindex(summary.index).fillna("") if len(warnings) else ""
    return summary.reset_index()


def _model_warnings(folds: pd.DataFrame) -> str:
    if "warnings" not in folds:
        return ""
    return "; ".join(f"fold {fold}: {w}" for fold, text in zip(folds["fold"], folds["warnings"].fillna(""), strict=True)
                     for w in str(text).split("; ") if w)  # fmt: skip
