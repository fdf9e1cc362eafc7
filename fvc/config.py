"""Configuration: schema validation with messages that name the offending key, and typed views of it.

This module is the bottom of the package: it loads the schemas, converts command-line strings and validates
a config against its schema, and imports nothing of fvc. Each domain checks its own part next to the code
that reads it (models and their parameters, training, input, splits, synth, searches, tracking, weights), and
:func:`fvc.settings.validate_config`, at the top, runs the schema and then every domain's check. The Snakefile
calls that at parse time, so a typo stops the run before any job starts.

The JSON schemas ship inside the package (``fvc/schemas/*.schema.yaml``, read with :mod:`importlib.resources`),
so an installed fvc validates a config without the source tree.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping, MutableMapping
from importlib import resources
from typing import Any

import jsonschema
import yaml

__all__ = [
    "ConfigError",
    "coerce_config",
    "from_string",
    "load_schema",
    "schema_files",
    "validate_sample_row",
    "validate_schema",
]

SCHEMA_PACKAGE = "fvc"
SCHEMA_FOLDER = "schemas"  # fvc/schemas/<name>.schema.yaml, package data (pyproject.toml)


class ConfigError(ValueError):
    """An invalid configuration or sample sheet; the message names the key (or row) and the reason."""


def schema_files() -> Any:
    """The folder of the packaged schemas, as an :mod:`importlib.resources` traversable."""
    return resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_FOLDER)


def load_schema(name: str) -> dict[str, Any]:
    """Load the packaged ``fvc/schemas/<name>.schema.yaml`` (``config`` or ``samples``); a fresh copy each call."""
    return copy.deepcopy(_parsed_schema(name))


@functools.cache
def _parsed_schema(name: str) -> dict[str, Any]:
    # Parsed once per process: a sample sheet validates every row against the samples schema.
    return yaml.safe_load(schema_files().joinpath(f"{name}.schema.yaml").read_text(encoding="utf-8"))


def validate_schema(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Raise :class:`ConfigError` naming the first key the JSON schema refuses; return the (typed) config.

    Strings where the schema asks for a boolean, number or null (Snakemake's ``--config`` delivers nested
    values as strings) are first converted in place (:func:`coerce_config`), so the caller's ``config``
    holds typed values afterwards; the returned object is that same config (a new dict only when
    ``config`` is not mutable). What a schema cannot check (registered models, their parameters, the input
    folder, the searches) is each domain's own check; :func:`fvc.settings.validate_config` runs them all.
    """
    schema = load_schema("config")
    config = coerce_config(config, schema)
    _validate(dict(config), schema, what="config")
    return config


# --- strings from the command line -> the types the schema asks for -------------------------------------

_TRUE, _FALSE, _NULL = {"true", "yes", "1"}, {"false", "no", "0"}, {"null", "none", "~"}
_YAML_NULL = {"null", "Null", "NULL", "~"}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def coerce_config(config: Any, schema: Mapping[str, Any] | None = None) -> Any:
    """Convert strings to the boolean, integer, number or null the schema asks for; containers in place.

    Snakemake parses each ``--config key=value`` with YAML's base loader, so in
    ``--config tracking='{enabled: false}'`` or ``split='{folds: 4}'`` the nested values are the strings
    ``'false'`` and ``'4'``. Walking the schema (``properties``, ``additionalProperties``, ``items``, local
    ``$ref``, ``oneOf``/``anyOf``/``allOf`` branches), a string is converted where the schema's ``type`` does
    not allow a string: booleans from true/false/yes/no/1/0 (any case), integers, numbers, null from
    null/none/~ (any case; where a string is allowed too, only YAML's null/Null/NULL/~). An integer becomes a
    string where only a string is allowed (``--config results=2024``). Anything that does not convert is left
    for the schema to report. Dicts and lists are updated in place, so Snakemake's ``config`` object itself
    holds the typed values; the (same) object is returned, or a converted copy for an immutable mapping.
    """
    schema = load_schema("config") if schema is None else schema
    return _coerce(config, schema, schema)


def _resolve(schema: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/") and seen < 32:
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        schema, seen = target, seen + 1
    return schema if isinstance(schema, Mapping) else {}


def _branches(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The schema and the alternatives it combines, each resolved."""
    out = [schema]
    for key in ("oneOf", "anyOf", "allOf"):
        out += [_resolve(branch, root) for branch in schema.get(key) or []]
    return out


def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else set(kind or [])


def _coerce(value: Any, schema: Any, root: Mapping[str, Any]) -> Any:
    schema = _resolve(schema, root)
    branches = _branches(schema, root)
    if isinstance(value, Mapping):
        target = value if isinstance(value, MutableMapping) else dict(value)
        for key in list(target):
            sub = _child_schema(branches, key)
            if sub is not None:
                target[key] = _coerce(target[key], sub, root)
        return target
    if isinstance(value, list):
        items = next((b["items"] for b in branches if isinstance(b.get("items"), Mapping)), None)
        if items is not None:
            value[:] = [_coerce(v, items, root) for v in value]
        return value
    types = set().union(*(_types(b) for b in branches))
    if not types:
        return value
    if isinstance(value, str):
        return from_string(value, types)
    if isinstance(value, int) and not isinstance(value, bool) and "string" in types and not types & {"integer", "number"}:
        return str(value)
    return value


def _child_schema(branches: list[Mapping[str, Any]], key: Any) -> Any:
    for branch in branches:
        properties = branch.get("properties") or {}
        if key in properties:
            return properties[key]
    for branch in branches:
        extra = branch.get("additionalProperties")
        if isinstance(extra, Mapping):
            return extra
    return None


def from_string(value: str, types: set[str]) -> Any:
    """``value`` as the first of the JSON-schema ``types`` it spells (``{"boolean"}``: ``'yes'`` -> True); else unchanged."""
    if "string" in types:
        # A string is valid as it is; only YAML's own spellings of null mean null where null is allowed too
        # (`--config tracking='{uri: null}'`).
        return None if "null" in types and value in _YAML_NULL else value
    text = value.strip()
    lower = text.lower()
    if "null" in types and lower in _NULL:
        return None
    if "boolean" in types and lower in _TRUE | _FALSE:
        return lower in _TRUE
    if types & {"integer", "number"} and _INTEGER.fullmatch(text):
        return int(text)
    if "number" in types and _NUMBER.fullmatch(text):
        return float(text)
    return value


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
