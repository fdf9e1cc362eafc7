"""Configuration: schema validation with messages that name the offending key, and typed views of it.

The Snakefile calls :func:`validate_config` at parse time, so a typo stops the run before any job starts.
The same function serves the CLI and the tests, which is why it lives here and not in ``common.smk``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = [
    "ClipRecipe",
    "ConfigError",
    "load_schema",
    "validate_config",
    "validate_sample_row",
]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "workflow" / "schemas"


class ConfigError(ValueError):
    """An invalid configuration or sample sheet; the message names the key (or row) and the reason."""


@dataclass(frozen=True)
class ClipRecipe:
    """How a clipset turns a video into arrays (config ``clipsets.<name>``).

    ``frames`` positions are sampled (``uniform`` over the video, or every ``stride``-th frame of a centred
    window), each frame is scaled by ``scaling`` to ``size``, and ``copies`` augmented copies are made per
    video in addition to the untouched copy 0.
    """

    name: str
    frames: int
    size: int
    scaling: str  # "fixed", "crop" or "letterbox"
    sampling: str = "uniform"
    stride: int = 1
    copies: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any], name: str) -> ClipRecipe:
        try:
            recipe = config["clipsets"][name]
        except KeyError:
            known = ", ".join(sorted(config.get("clipsets", {}))) or "none"
            raise ConfigError(f"config key 'clipsets': no clipset named '{name}' (known: {known})") from None
        return cls(name=name, **recipe)


def load_schema(name: str) -> dict[str, Any]:
    """Load ``workflow/schemas/<name>.schema.yaml``."""
    path = SCHEMA_DIR / f"{name}.schema.yaml"
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def validate_config(config: Mapping[str, Any], *, check_models: bool = True) -> None:
    """Raise :class:`ConfigError` naming the first offending key; return silently for a valid config.

    Beyond the JSON schema, checks what a schema cannot: that every model is registered and that the
    clipset each model reads exists.
    """
    _validate(dict(config), load_schema("config"), what="config")
    if not check_models:
        return
    from fvc.models import registry  # deferred: the registry imports model families

    known = registry.list_models()
    for name in config["models"]:
        if name not in known:
            raise ConfigError(f"config key 'models': unknown model '{name}' (registered: {', '.join(known)})")
    # Parameters of a registered model that is not in `models` are kept (a model switched off for now);
    # an unregistered name is a typo that would silently do nothing.
    params = config.get("model_params") or {}
    for name in params:
        if name not in known:
            raise ConfigError(f"config key 'model_params.{name}': unknown model '{name}' (registered: {', '.join(known)})")
        spec = registry.get_spec(name)
        clipset = registry.resolve_params(name, params.get(name)).get("clipset", spec.default_params.get("clipset"))
        if clipset is not None and clipset not in config["clipsets"]:
            raise ConfigError(
                f"config key 'model_params.{name}.clipset': clipset '{clipset}' is not defined in 'clipsets'"
            )
    _validate_hpo(config.get("hpo") or {}, known)


def _validate_hpo(hpo: Mapping[str, Any], known: list[str]) -> None:
    """What the schema cannot check of ``hpo``: registered models, searchable names, a coherent method."""
    from fvc.hpo.space import HpoConfig, check_space_names

    for name, values in hpo.items():
        if name not in known:
            raise ConfigError(f"config key 'hpo.{name}': unknown model '{name}' (registered: {', '.join(known)})")
        try:
            HpoConfig.from_config(values)
            check_space_names(name, values["space"])
        except ValueError as exc:
            raise ConfigError(f"config key 'hpo.{name}': {exc}") from None


def validate_sample_row(row: Mapping[str, Any], where: str) -> None:
    """Validate one sample-sheet row; ``where`` (e.g. ``"samples.csv line 4"``) prefixes the message."""
    _validate(dict(row), load_schema("samples"), what=where)


def _validate(instance: dict[str, Any], schema: dict[str, Any], *, what: str) -> None:
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise ConfigError(_describe(errors[0], what))


def _describe(error: jsonschema.ValidationError, what: str) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        key = ".".join(filter(None, [path, extra[0] if extra else ""]))
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"invalid {what}: unknown key '{key}'{hint}"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        key = ".".join(filter(None, [path, missing]))
        return f"invalid {what}: missing key '{key}'"
    return f"invalid {what} at key '{path or '<top>'}': {error.message}"
