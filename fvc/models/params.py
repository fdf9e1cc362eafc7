"""The models' part of a config: registered names, their parameters and choices, the clipset each one reads.

The models domain's check (:func:`check_models_config`), which :func:`fvc.settings.validate_config` runs after
the schema. It is torch-free: it reads the registry's metadata and the builders' signatures, never a network.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping, MutableMapping
from dataclasses import fields
from typing import Any

from fvc.config import ConfigError, from_string
from fvc.models import registry
from fvc.train.config import TrainConfig

__all__ = ["check_models_config", "check_param_choices", "coerce_param_values", "param_default"]


def check_models_config(config: Mapping[str, Any]) -> None:
    """Every model is registered, every key of ``model_params.<model>`` is a parameter that model accepts (typed
    as its default, one of its registered choices), and the clipset each model reads exists.

    Parameters of a registered model that is not in ``models`` are checked all the same (a model switched off
    for now); an unregistered name is a typo that would silently do nothing.
    """
    known = registry.list_models()
    for name in config["models"]:
        if name not in known:
            raise ConfigError(f"config key 'models': unknown model '{name}' (registered: {', '.join(known)})")
    params = config.get("model_params") or {}
    for name in params:
        if name not in known:
            raise ConfigError(f"config key 'model_params.{name}': unknown model '{name}' (registered: {', '.join(known)})")
        _check_param_names(name, params.get(name) or {})
        coerce_param_values(name, params.get(name) or {})
        check_param_choices(name, params.get(name) or {}, "model_params")
        spec = registry.get_spec(name)
        clipset = registry.resolve_params(name, params.get(name)).get("clipset", spec.default_params.get("clipset"))
        if clipset is not None and clipset not in config["clipsets"]:
            raise ConfigError(
                f"config key 'model_params.{name}.clipset': clipset '{clipset}' is not defined in 'clipsets'"
            )


def _check_param_names(name: str, params: Mapping[str, Any]) -> None:
    allowed = registry.param_names(name)
    if allowed is None:
        return
    for key in params:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"config key 'model_params.{name}.{key}': unknown parameter (allowed: {', '.join(sorted(allowed))}){hint}"
            )


def check_param_choices(name: str, params: Mapping[str, Any], where: str) -> None:
    """A parameter with registered choices (``deep_v1``'s ``variant``) holds one of them (``None``: the default).

    ``params`` maps a parameter to a value, or (``where="hpo"``) to a list of values to search.
    """
    if not isinstance(params, Mapping):
        return
    for key in registry.get_spec(name).choices:
        values = params.get(key)
        for value in values if where == "hpo" and isinstance(values, list) else [values]:
            if (allowed := registry.choice_error(name, key, value)) is not None:
                path = f"hpo.{name}.space.{key}" if where == "hpo" else f"model_params.{name}.{key}"
                raise ConfigError(f"config key '{path}': {value!r} is not {allowed}")


def coerce_param_values(name: str, params: Any) -> None:
    """Strings where the parameter's default is a boolean or a number, converted in place.

    The schema gives ``model_params`` no types, so ``--config model_params='{naive_cnn: {epochs: 3}}'`` would
    hand ``'3'`` to the engine. The default (:func:`param_default`) tells the type; a string that does not
    convert, or a parameter whose default is a string or None (``pretrained: /path/to/weights.pth``,
    ``gamma: scale``), is left as it is.
    """
    if not isinstance(params, MutableMapping):
        return
    for key, value in list(params.items()):
        if not isinstance(value, str):
            continue
        default = param_default(name, key)
        # A number reads as YAML would read it ('2' -> 2, '0.5' -> 0.5), whichever of int or float the default is:
        # warmup_epochs defaults to 1 in the registry and is a float to the engine.
        types = {"boolean"} if isinstance(default, bool) else {"number"} if isinstance(default, int | float) else set()
        if types:
            params[key] = from_string(value, types)


def param_default(name: str, key: str) -> Any:
    """The default of ``model_params.<name>.<key>``: the registry's, else the builder's, else the training engine's."""
    spec = registry.get_spec(name)
    if spec.default_params.get(key) is not None:
        return spec.default_params[key]
    parameter = inspect.signature(spec.builder).parameters.get(key)
    if parameter is not None and parameter.default not in (None, inspect.Parameter.empty):
        return parameter.default
    if key in registry.train_params(name):
        field = next((f for f in fields(TrainConfig) if f.name == key), None)
        if field is not None and field.default is not None:
            return field.default
        if field is not None:  # a None default ("min_epochs: int | None"): the annotation's first type
            kind = str(field.type).split("|")[0].strip()
            return {"bool": False, "int": 0, "float": 0.0}.get(kind)
    return None
