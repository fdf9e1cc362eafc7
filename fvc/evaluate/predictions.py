"""Every fold's predictions and training histories gathered into long tables keyed by model and fold.

The plots and the paired statistics both start from these tables; reading them in one place keeps the
"which model, which fold" bookkeeping (taken from the ``models/<model>/fold_<k>/`` layout) consistent.
Video scores are read as each fold's learner aggregated them (``video_predictions.parquet``), never
re-aggregated here: how clips become a video is the learner's setting (fvc.learners.aggregate).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

__all__ = ["HISTORY_FILE", "collect_histories", "collect_predictions", "collect_video_scores", "fold_dir_key"]

HISTORY_FILE = "history.csv"

_FOLD_DIR = re.compile(r"fold_(\d+)")


def fold_dir_key(path: str | Path) -> tuple[str, int]:
    """``(model, fold)`` of a file in ``.../models/<model>/fold_<k>/``; the layout the train rule writes."""
    fold_dir = Path(path).parent
    match = _FOLD_DIR.fullmatch(fold_dir.name)
    if match is None:
        raise ValueError(f"{path} is not inside a 'fold_<k>' folder")
    return fold_dir.parent.name, int(match.group(1))


def collect_predictions(paths: Iterable[str | Path]) -> pd.DataFrame:
    """All fold predictions with ``model`` and ``fold`` columns first, sorted by model, fold and video.

    The model name comes from the folder, because ``predictions.parquet`` itself does not record it.
    """
    frames = []
    for path in paths:
        model, fold = fold_dir_key(path)
        frame = pd.read_parquet(path)
        frame = frame.drop(columns=[c for c in ("model", "fold") if c in frame.columns])
        frame.insert(0, "fold", fold)
        frame.insert(0, "model", model)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["model", "fold", "video_id", "copy", "label", "score"])
    table = pd.concat(frames, ignore_index=True)
    keys = [c for c in ("model", "fold", "video_id", "copy") if c in table.columns]
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def collect_video_scores(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per model x fold x held-out video, from the folds' ``video_predictions.parquet``.

    Columns model, fold, video_id, label (int64), score; sorted by model, fold and video.
    """
    table = collect_predictions(paths)
    if table.empty:
        return pd.DataFrame(columns=["model", "fold", "video_id", "label", "score"])
    table["label"] = table["label"].astype("int64")
    return table[["model", "fold", "video_id", "label", "score"]]


def collect_histories(fold_dirs: Iterable[str | Path]) -> pd.DataFrame:
    """Per-epoch training histories (``history.csv``) of the fold folders that have one.

    Only models trained by epochs (the deep models) write a history; sklearn folds have none and are
    skipped, so an empty table means "no learning curves to draw", not an error.
    """
    frames = []
    for fold_dir in fold_dirs:
        path = Path(fold_dir) / HISTORY_FILE
        if not path.is_file():
            continue
        model, fold = fold_dir_key(path)
        frame = pd.read_csv(path)
        if frame.empty or "epoch" not in frame.columns:
            continue
        frame = frame.drop(columns=[c for c in ("model", "fold") if c in frame.columns])
        frame.insert(0, "fold", fold)
        frame.insert(0, "model", model)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["model", "fold", "epoch"])
    return pd.concat(frames, ignore_index=True).sort_values(["model", "fold", "epoch"], kind="stable").reset_index(drop=True)
