"""Clip scores to video scores: the one place a video's P(fake) is made from its clips' P(fake).

A video contributes several rows to a fold's clip predictions (its untouched copy and augmented copies, and
later one row per tile): the video's score is their mean. Every consumer (fold metrics, the hyper-parameter
search, test sets, the paired statistics and the plots) reads the score made here, so a change of aggregation
(``max``, ``topk_mean`` for tiles) reaches them all at once.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["AGGREGATIONS", "aggregate_videos"]

AGGREGATIONS = ("mean",)


def aggregate_videos(clips: pd.DataFrame, method: str = "mean") -> pd.DataFrame:
    """One row per ``video_id`` (sorted): its ``label``, aggregated ``score`` and ``fold``, from clip rows.

    ``clips`` has ``video_id``, ``label``, ``score`` and ``fold`` columns (a fold's predictions, or a test set's
    clip scores).
    """
    if method not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation '{method}' (known: {', '.join(AGGREGATIONS)})")
    grouped = clips.groupby("video_id", sort=True)
    return grouped.agg(label=("label", "first"), score=("score", method), fold=("fold", "first")).reset_index()
