"""Learners: the one interface that fits, scores, aggregates, saves, loads and exports any kind of model.

- :class:`Learner` (:mod:`fvc.learners.base`): the contract; :class:`~fvc.learners.sklearn_learner.SklearnLearner`
  and :class:`~fvc.learners.torch_learner.TorchLearner` implement it.
- :class:`ModelPlan` (:mod:`fvc.learners.plan`): one model with its parameters, resolved once.
- :mod:`fvc.learners.kinds`: which learner serves which registry ``kind``; the only place that knows it.
- :func:`aggregate_videos` (:mod:`fvc.learners.aggregate`): the only place clip scores become a video score.
- :mod:`fvc.learners.fold`: one (model, fold) of the workflow's train rule.

Importing this package imports neither scikit-learn nor torch.
"""

from fvc.learners.aggregate import AGGREGATIONS, aggregate_videos
from fvc.learners.base import ClipSource, FitOutcome, Learner
from fvc.learners.kinds import (
    LEARNERS,
    learner_class,
    load_fold_learners,
    load_learner,
    make_plan,
    model_file,
    new_learner,
    reads,
)
from fvc.learners.plan import ModelPlan, recipe_dict, saved_recipe

__all__ = [
    "AGGREGATIONS", "LEARNERS", "ClipSource", "FitOutcome", "Learner", "ModelPlan", "aggregate_videos", "learner_class",
    "load_fold_learners", "load_learner", "make_plan", "model_file", "new_learner", "reads", "recipe_dict", "saved_recipe",
]  # fmt: skip
