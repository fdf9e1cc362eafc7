"""External test sets' results gathered: per-part metrics into one table, and ``test_summary.csv``.

Scoring (``results/test/<test_set>/<model>/<fold_k | ensemble>/metrics.json``) is
:mod:`fvc.inference.test_sets`; this module reads what it wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from fvc.evaluate.metrics import METRIC_NAMES

__all__ = ["ENSEMBLE", "collect_test_metrics", "summarise_test_sets"]

ENSEMBLE = "ensemble"


def collect_test_metrics(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per (test set, model, fold or ensemble, level), plus per-family rows (level ``family:<name>``)."""
    rows = []
    for path in paths:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        base = {"test_set": record["test_set"], "model": record["model"], "fold": str(record["fold"]), "n_videos": record["n_videos"],
                "n_in_training": len(record["in_training"]), "n_rejected": len(record["rejected"])}  # fmt: skip
        for level in ("video", "clip"):
            if record.get(level):
                at_threshold = {}
                if level == "video" and record.get("video_at_val_threshold"):
                    at_threshold = {"accuracy_at_val_threshold": record["video_at_val_threshold"]["accuracy"],
                                    "f1_at_val_threshold": record["video_at_val_threshold"]["f1"]}  # fmt: skip
                rows.append({**base, "level": level, **{m: record[level][m] for m in METRIC_NAMES}, **at_threshold})
        for family, values in (record.get("families") or {}).items():
            rows.append({**base, "level": f"family:{family}", "n_videos": values["n"], "roc_auc": values["roc_auc"], "recall": values["recall"]})
    return pd.DataFrame(rows)


def summarise_test_sets(test_metrics: pd.DataFrame, cv_summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """``test_summary.csv``: one row per (test set, model, level), the fold models' mean ± std and the ensemble's
    value of each metric, and beside them the model's in-domain cross-validation ROC-AUC."""
    if test_metrics.empty:
        return pd.DataFrame()
    metrics = [m for m in (*METRIC_NAMES, "accuracy_at_val_threshold", "f1_at_val_threshold") if m in test_metrics.columns]
    folds = test_metrics[test_metrics["fold"] != ENSEMBLE]
    ensemble = test_metrics[test_metrics["fold"] == ENSEMBLE].set_index(["test_set", "model", "level"])
    grouped = folds.groupby(["test_set", "model", "level"], sort=True)
    table = pd.concat(
        [grouped.size().rename("folds"), grouped["n_videos"].max(), grouped["n_in_training"].max(), grouped["n_rejected"].max(),
         grouped[metrics].mean().add_suffix("_mean"), grouped[metrics].std(ddof=1).add_suffix("_std"),
         ensemble[metrics].add_suffix("_ensemble").reindex(grouped.size().index)],
        axis=1,
    )  # fmt: skip
    table = table.dropna(axis=1, how="all").reset_index()
    if cv_summary is not None and "roc_auc_mean" in cv_summary.columns:
        table["cv_roc_auc_mean"] = table["model"].map(cv_summary.set_index("model")["roc_auc_mean"])
    level_order = {"video": 0, "clip": 1}
    table["_order"] = table["level"].map(level_order).fillna(2)
    return table.sort_values(["test_set", "_order", "level", "model"], kind="stable").drop(columns="_order").round(6).reset_index(drop=True)
