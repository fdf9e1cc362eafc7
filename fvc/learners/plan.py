"""A model's plan: everything about one (model, parameters) that training and scoring read, resolved once.

Before plans, one training job looked the model up in the registry four times, in the weights hub twice, and
resolved its parameters four times, each caller again; the clip recipe was a plain dict on the training path
and a :class:`~fvc.data.recipe.ClipRecipe` elsewhere. A plan is built once per (model, fold) by
:func:`fvc.learners.make_plan` (or rebuilt from a saved model file) and passed down, frozen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fvc.data.recipe import ClipRecipe
from fvc.models.registry import ModelSpec

__all__ = ["ModelPlan", "recipe_dict", "saved_recipe"]


@dataclass(frozen=True)
class ModelPlan:
    """One model with its parameters, as every stage that touches it needs it.

    ``kwargs`` are the builder's arguments (what rebuilding the network needs, geometry and a resolved weights
    file included); ``train`` the training engine's settings for models trained by epochs; ``norm`` the mean and
    std clips are normalised with; ``layout`` how a batch is laid out (``features``, ``frames`` or ``clip``);
    ``pretrained`` where the starting weights came from (tag, source, file, sha256), recorded in metrics.json.
    """

    spec: ModelSpec
    params: Mapping[str, Any]
    recipe: ClipRecipe
    seed: int = 0
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    train: Any | None = None  # fvc.train.config.TrainConfig for torch models
    norm: Mapping[str, Any] | None = None
    layout: str = "features"
    pretrained: Mapping[str, Any] | None = None
    aggregation: str = "mean"  # clip scores -> video score (fvc.learners.aggregate)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind


def recipe_dict(recipe: ClipRecipe) -> dict[str, Any]:
    """The recipe as the config's ``clipsets.<name>`` mapping (no name): what a model file stores."""
    values = asdict(recipe)
    values.pop("name")
    return values


def saved_recipe(saved: Mapping[str, Any]) -> ClipRecipe:
    """The clip recipe a model file stores (the clipset it was trained on), as a recipe named ``predict``."""
    recipe = dict(saved.get("clip_recipe") or {})
    if not recipe:
        raise ValueError(f"model file of '{saved.get('name')}' has no clip recipe (trained with an older fvc); retrain it")
    return ClipRecipe(name="predict", **recipe)
