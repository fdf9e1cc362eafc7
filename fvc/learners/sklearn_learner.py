"""The scikit-learn learner: a fitted estimator on a clipset's feature table, saved with joblib."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fvc.data.recipe import ClipRecipe
from fvc.io.atomic import atomic_path
from fvc.learners.base import ClipSource, FitOutcome, Learner
from fvc.learners.plan import ModelPlan, recipe_dict, saved_recipe
from fvc.models.hub import WeightsConfig
from fvc.models.registry import get_spec, model_kwargs

__all__ = ["SklearnLearner"]


class SklearnLearner(Learner):
    """A scikit-learn estimator (``predict_proba``) over handcrafted clip features."""

    kind = "sklearn"
    model_file = "model.joblib"
    reads = "features"

    def __init__(self, plan: ModelPlan, model: Any = None, feature_names: list[str] | None = None) -> None:
        super().__init__(plan, model)
        self.feature_names = feature_names

    @classmethod
    def make_plan(cls, name: str, params: Mapping[str, Any], recipe: ClipRecipe, *, seed: int,
                  weights: WeightsConfig | None = None) -> ModelPlan:  # fmt: skip
        return ModelPlan(get_spec(name), dict(params), recipe, seed, kwargs=model_kwargs(name, params), layout="features")

    @staticmethod
    def search_rounds(cv_folds: int) -> int:
        return cv_folds  # a fit takes seconds: every search fold

    def fit(self, source: ClipSource, folds: pd.DataFrame, fold: int, *, threads: int = 1, **_: Any) -> FitOutcome:
        from fvc.learners.sklearn_fit import fit_fold

        fit = fit_fold(self.name, self.plan.params, source.feature_table(self.name), folds, fold, self.plan.seed, n_jobs=threads)
        self.model, self.feature_names = fit.model, fit.feature_names
        return FitOutcome(fit.predictions)

    def _proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)[:, list(self.model.classes_).index(1)]

    def score_clips(self, source: ClipSource, labels: pd.Series) -> pd.DataFrame:
        table = source.feature_table(self.name)
        table = table[table["video_id"].isin(labels.index) & (table["copy"] == 0)]
        x = table.reindex(columns=self.feature_names).to_numpy(np.float64)
        scores = self._proba(x) if len(table) else np.empty(0)
        return pd.DataFrame({"video_id": table["video_id"].to_numpy(), "copy": 0, "label": table["video_id"].map(labels).to_numpy(),
                             "score": scores})  # fmt: skip

    def score_file(self, path: str | os.PathLike[str]) -> float:
        from fvc.data.clips import clip_geometry, read_clip
        from fvc.features.extract import clip_table_row
        from fvc.io.video import probe

        recipe = self.plan.recipe
        clip = read_clip(path, recipe)
        info = probe(path)
        geo = clip_geometry(recipe, info.width, info.height)  # measure the picture, not letterbox bars
        content = clip[:, geo.pad_top : geo.pad_top + geo.content_height, geo.pad_left : geo.pad_left + geo.content_width]
        row = clip_table_row(content, info)
        x = np.array([[row.get(name, np.nan) for name in self.feature_names]], dtype=np.float64)
        return float(self._proba(x)[0])

    def save(self, fold_dir: str | os.PathLike[str]) -> Path:
        import joblib

        target = Path(fold_dir) / self.model_file
        with atomic_path(target) as tmp:
            joblib.dump({"model": self.model, "feature_names": self.feature_names, "name": self.name, "params": dict(self.plan.params),
                         "clip_recipe": recipe_dict(self.plan.recipe)}, tmp)  # fmt: skip
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], name: str) -> SklearnLearner:
        import joblib

        saved = joblib.load(path)  # written by this workflow: see the README's warning
        if saved.get("name", name) != name:
            raise ValueError(f"{path} holds model '{saved.get('name')}', not '{name}'")
        plan = ModelPlan(get_spec(name), dict(saved.get("params") or {}), saved_recipe(saved), layout="features")
        return cls(plan, saved["model"], feature_names=saved["feature_names"])

