"""Schema validation: every kind of mistake is rejected with the offending key in the message."""

from __future__ import annotations

import copy

import pytest
import yaml

from fvc.config import ClipRecipe, ConfigError, validate_config
from tests.conftest import REPO


@pytest.fixture
def config() -> dict:
    with open(REPO / "config" / "config.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_default_config_is_valid(config):
    validate_config(config)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(typo_key=1), "'typo_key'"),
        (lambda c: c["split"].update(fold=3), "'split.fold'"),
        (lambda c: c["split"].update(folds=1), "'split.folds'"),
        (lambda c: c["split"].update(folds="three"), "'split.folds'"),
        (lambda c: c.update(shards=0), "'shards'"),
        (lambda c: c["input"].update(kind="s3"), "'input.kind'"),
        (lambda c: c["clipsets"]["forensic"].update(scaling="stretch"), "'clipsets.forensic.scaling'"),
        (lambda c: c["clipsets"]["forensic"].pop("size"), "'clipsets.forensic.size'"),
        (lambda c: c.pop("models"), "'models'"),
        (lambda c: c.update(models=["no_such_model"]), "unknown model 'no_such_model'"),
        (lambda c: c["model_params"].update(logistic_regresion={}), "'model_params.logistic_regresion'"),
        (lambda c: c["model_params"]["logistic_regression"].update(clipset="missing"), "model_params.logistic_regression.clipset"),
    ],
)
def test_invalid_config_names_the_key(config, mutate, expected):
    bad = copy.deepcopy(config)
    mutate(bad)
    with pytest.raises(ConfigError) as excinfo:
        validate_config(bad)
    assert expected in str(excinfo.value)


def test_clip_recipe_from_config(config):
    recipe = ClipRecipe.from_config(config, "forensic")
    assert (recipe.frames, recipe.size, recipe.scaling) == (8, 64, "crop")
    with pytest.raises(ConfigError, match="no clipset named 'nope'"):
        ClipRecipe.from_config(config, "nope")
