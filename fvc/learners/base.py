"""The learner contract: what every kind of model does, so that no caller needs to know which kind it has.

scikit-learn's estimator contract is the model: a :class:`Learner` fits on one fold's training part (with
its inner validation), scores clips to per-clip P(fake), saves itself into a fold folder and loads back from
it, and exports where its kind allows. Fold training, the hyper-parameter search, test-set scoring,
``fvc predict`` and ``fvc export`` go through it; a new kind of model is one more subclass and one line in
:mod:`fvc.learners.kinds`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from fvc.learners.aggregate import aggregate_videos
from fvc.learners.plan import ModelPlan

__all__ = ["ClipSource", "FitOutcome", "Learner"]


@dataclass(frozen=True)
class ClipSource:
    """Where a model reads clips from: a clipset's shard manifests and, for feature models, its feature table.

    A learner reads what its kind needs (:attr:`Learner.reads`) and ignores the rest, so callers pass both
    when they have both.
    """

    manifests: Sequence[str | os.PathLike[str]] = ()
    features: str | os.PathLike[str] | pd.DataFrame | None = None

    def feature_table(self, name: str) -> pd.DataFrame:
        if self.features is None:
            raise ValueError(f"model '{name}' reads features: its feature table is required")
        return self.features if isinstance(self.features, pd.DataFrame) else pd.read_parquet(self.features)

    def manifest_paths(self, name: str) -> list[Path]:
        if not self.manifests:
            raise ValueError(f"model '{name}' reads clips: its clip manifests are required")
        return [Path(m) for m in self.manifests]


@dataclass
class FitOutcome:
    """What fitting one fold produced, beside the fitted model the learner now holds."""

    predictions: pd.DataFrame  # the held-out fold's clips: video_id, copy, fold, label (1 = fake), score
    threshold: float = 0.5  # the decision threshold chosen on inner-validation videos (0.5: none chosen)
    history: pd.DataFrame | None = None  # per-epoch training history, for models trained by epochs
    metrics: dict[str, Any] = field(default_factory=dict)  # kind-specific entries of metrics.json


class Learner(ABC):
    """One trained (or to-be-trained) model of one kind, described by its :class:`ModelPlan`."""

    kind: ClassVar[str]  # the registry's ``ModelSpec.kind`` this learner serves
    model_file: ClassVar[str]  # the file a fold folder keeps the model in
    reads: ClassVar[str]  # "features" or "clips": what fitting and scoring read (rules/common.smk asks)
    # Whether fit() sends per-epoch validation metrics to its tracker: a search prunes on those when it does,
    # on the running mean over search folds otherwise.
    reports_epochs: ClassVar[bool] = False

    def __init__(self, plan: ModelPlan, model: Any = None) -> None:
        self.plan = plan
        self.model = model

    @property
    def name(self) -> str:
        return self.plan.name

    # -- training ---------------------------------------------------------------------------------------
    @abstractmethod
    def fit(
        self,
        source: ClipSource,
        folds: pd.DataFrame,
        fold: int,
        *,
        threads: int = 1,
        checkpoint: str | os.PathLike[str] | None = None,
        tracker: Any | None = None,
        progress: bool = True,
        stop_after_epoch: int | None = None,
    ) -> FitOutcome:
        """Fit on every fold of ``folds`` but ``fold`` and score ``fold``'s untouched clips.

        ``checkpoint``: where a model trained by epochs keeps its resumable state (ignored by the others).
        """

    @staticmethod
    def search_rounds(cv_folds: int) -> int:
        """How many search folds a hyper-parameter trial trains on when ``hpo.cv_rounds`` is unset."""
        return cv_folds

    # -- scoring ----------------------------------------------------------------------------------------
    @abstractmethod
    def score_clips(self, source: ClipSource, labels: pd.Series) -> pd.DataFrame:
        """P(fake) of every untouched clip of the videos ``labels`` indexes (video_id -> 1 for fake, 0 for real):
        columns video_id, copy, label, score."""

    @abstractmethod
    def score_file(self, path: str | os.PathLike[str]) -> float:
        """P(fake) for one new file, decoded under the plan's clip recipe; :class:`~fvc.io.video.DecodeError`
        for a file that cannot be used."""

    def aggregate(self, clips: pd.DataFrame) -> pd.DataFrame:
        """Clip rows to one row per video (:func:`~fvc.learners.aggregate.aggregate_videos`, the plan's method)."""
        return aggregate_videos(clips, self.plan.aggregation)

    # -- persistence ------------------------------------------------------------------------------------
    @abstractmethod
    def save(self, fold_dir: str | os.PathLike[str]) -> Path:
        """Write the fitted model (and its plan's recipe and normalisation) to ``fold_dir / model_file``, atomically."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | os.PathLike[str], name: str) -> Learner:
        """The learner saved at ``path`` by :meth:`save`; refuses a file that holds another model than ``name``."""

    def export(self, fmt: str, target: str | os.PathLike[str]) -> dict[str, Any]:
        """Export to a deployable format; the kinds that have none say so."""
        raise ValueError(f"'{self.name}' is a {self.kind} model; export applies to torch models")
