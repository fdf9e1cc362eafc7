"""Which learner serves which kind of model: the one place that maps a registry ``kind`` to code.

Learner modules are imported on first use by name, so asking what a model reads (the workflow does at parse
time) or listing kinds never imports scikit-learn or torch.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fvc.data.recipe import ClipRecipe
from fvc.learners.base import Learner
from fvc.learners.plan import ModelPlan
from fvc.models.hub import WeightsConfig
from fvc.models.registry import get_spec

__all__ = ["LEARNERS", "learner_class", "load_fold_learners", "load_learner", "make_plan", "model_file", "new_learner", "reads"]

# kind -> "module:Class". A new kind of model (say, a gradient-boosting library with its own file format) is a
# Learner subclass and one entry here.
LEARNERS: Mapping[str, str] = {
    "sklearn": "fvc.learners.sklearn_learner:SklearnLearner",
    "torch": "fvc.learners.torch_learner:TorchLearner",
}


def learner_class(name: str) -> type[Learner]:
    """The learner class of registered model ``name`` (a ``KeyError`` naming the registered ones otherwise)."""
    kind = get_spec(name).kind
    try:
        module, _, attr = LEARNERS[kind].partition(":")
    except KeyError:
        raise ValueError(f"model '{name}' is of kind '{kind}', which no learner serves (known: {', '.join(LEARNERS)})") from None
    return getattr(importlib.import_module(module), attr)


def reads(name: str) -> str:
    """``features`` or ``clips``: what model ``name`` trains on and scores (the rules' inputs follow it)."""
    return learner_class(name).reads


def model_file(name: str) -> str:
    """The file a fold folder of model ``name`` keeps it in (``model.joblib``, ``model.pt``)."""
    return learner_class(name).model_file


def make_plan(name: str, params: Mapping[str, Any], recipe: ClipRecipe, *, seed: int, weights: WeightsConfig | None = None) -> ModelPlan:
    """The plan of model ``name`` with resolved ``params`` on clips made by ``recipe``, built once per (model, fold)."""
    return learner_class(name).make_plan(name, params, recipe, seed=seed, weights=weights)


def new_learner(plan: ModelPlan) -> Learner:
    """An unfitted learner for ``plan``."""
    return learner_class(plan.name)(plan)


def load_learner(fold_dir: str | os.PathLike[str], name: str) -> Learner:
    """The fitted learner of model ``name`` saved in ``fold_dir``.

    The file read is the one ``name``'s learner writes, never whichever model file exists: a fold folder holding
    another kind's file is refused before anything is loaded, so a torch model's name cannot lead to unpickling
    a ``model.joblib``.
    """
    cls, fold_dir = learner_class(name), Path(fold_dir)
    expected = cls.model_file
    foreign = sorted({other_file(kind) for kind in LEARNERS if kind != cls.kind} - {expected})
    found = [file for file in foreign if (fold_dir / file).exists()]
    if found:
        raise ValueError(
            f"{fold_dir} holds {found[0]}, but '{name}' is a {cls.kind} model (read from {expected} only); "
            f"refusing to load it: the folder was not written by training '{name}'"
        )
    if not (fold_dir / expected).is_file():
        fold = fold_dir.name.split("_")[-1]
        raise FileNotFoundError(f"{fold_dir / expected} is missing ('{name}' is a {cls.kind} model); retrain fold {fold}")
    return cls.load(fold_dir / expected, name)


def other_file(kind: str) -> str:
    module, _, attr = LEARNERS[kind].partition(":")
    return getattr(importlib.import_module(module), attr).model_file


def load_fold_learners(results: str | os.PathLike[str], model: str) -> list[tuple[int, Learner]]:
    """``(fold, learner)`` for every trained fold of ``model`` under ``results/models/<model>``, by fold."""
    try:
        get_spec(model)  # a registered name, never a path: "../x" cannot lead outside the results folder
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    model_dir = Path(results) / "models" / model
    markers = sorted(model_dir.glob("fold_*/training_complete"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not markers:
        raise FileNotFoundError(f"no trained folds of '{model}' under {model_dir} (run the workflow first)")
    return [(int(m.parent.name.split("_")[1]), load_learner(m.parent, model)) for m in markers]
