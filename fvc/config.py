"""Configuration: schema validation with messages that name the offending key, and typed views of it.

The Snakefile calls :func:`validate_config` at parse time, so a typo stops the run before any job starts.
The same function serves the CLI and the tests, which is why it lives here and not in ``common.smk``.

The JSON schemas ship inside the package (``fvc/schemas/*.schema.yaml``, read with :mod:`importlib.resources`),
so an installed fvc validates a config without the source tree.
"""

from __future__ import annotations

import copy
import csv
import difflib
import functools
import inspect
import os
import re
from collections.abc import Mapping, MutableMapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = [
    "ConfigError",
    "coerce_config",
    "load_schema",
    "schema_files",
    "validate_config",
    "validate_sample_row",
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


def validate_config(config: Mapping[str, Any], *, check_models: bool = True, check_input: bool = True) -> Mapping[str, Any]:
    """Raise :class:`ConfigError` naming the first offending key; return the config when it is valid.

    Strings where the schema asks for a boolean, number or null (Snakemake's ``--config`` delivers nested
    values as strings) are first converted in place (:func:`coerce_config`), so the caller's ``config``
    holds typed values afterwards; the returned object is that same config (a new dict only when
    ``config`` is not mutable).

    Beyond the JSON schema, checks what a schema cannot: that every model is registered, that every key of
    ``model_params.<model>`` is a parameter that model accepts, that the clipset each model reads exists,
    the hyper-parameter searches, and (``check_input``) that ``input.path`` exists for a folder or sheet and
    holds enough groups of each label for ``split.folds``.
    """
    schema = load_schema("config")
    config = coerce_config(config, schema)
    _validate(dict(config), schema, what="config")
    if check_input:
        _validate_input(config)
        _validate_test_sets(config)
    if not check_models:
        return config
    from fvc.models import registry  # deferred: the registry imports model families

    known = registry.list_models()
    for name in config["models"]:
        if name not in known:
            raise ConfigError(f"config key 'models': unknown model '{name}' (registered: {', '.join(known)})")
    # Parameters of a registered model that is not in `models` are kept (a model switched off for now), and
    # checked all the same; an unregistered name is a typo that would silently do nothing.
    params = config.get("model_params") or {}
    for name in params:
        if name not in known:
            raise ConfigError(f"config key 'model_params.{name}': unknown model '{name}' (registered: {', '.join(known)})")
        _check_param_names(name, params.get(name) or {})
        _coerce_param_values(name, params.get(name) or {})
        _check_param_choices(name, params.get(name) or {}, "model_params")
        spec = registry.get_spec(name)
        clipset = registry.resolve_params(name, params.get(name)).get("clipset", spec.default_params.get("clipset"))
        if clipset is not None and clipset not in config["clipsets"]:
            raise ConfigError(
                f"config key 'model_params.{name}.clipset': clipset '{clipset}' is not defined in 'clipsets'"
            )
    _validate_hpo(config.get("hpo") or {}, known)
    return config


def _check_param_names(name: str, params: Mapping[str, Any]) -> None:
    from fvc.models.registry import param_names

    allowed = param_names(name)
    if allowed is None:
        return
    for key in params:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"config key 'model_params.{name}.{key}': unknown parameter (allowed: {', '.join(sorted(allowed))}){hint}"
            )


def _check_param_choices(name: str, params: Mapping[str, Any], where: str) -> None:
    """A parameter with registered choices (``deep_v1``'s ``variant``) holds one of them (``None``: the default).

    ``params`` maps a parameter to a value, or (``where="hpo"``) to a list of values to search.
    """
    from fvc.models.registry import choice_error, get_spec

    if not isinstance(params, Mapping):
        return
    for key in get_spec(name).choices:
        values = params.get(key)
        for value in values if where == "hpo" and isinstance(values, list) else [values]:
            if (allowed := choice_error(name, key, value)) is not None:
                path = f"hpo.{name}.space.{key}" if where == "hpo" else f"model_params.{name}.{key}"
                raise ConfigError(f"config key '{path}': {value!r} is not {allowed}")


def _coerce_param_values(name: str, params: Any) -> None:
    """Strings where the parameter's default is a boolean or a number, converted in place.

    The schema gives ``model_params`` no types, so ``--config model_params='{naive_cnn: {epochs: 3}}'`` would
    hand ``'3'`` to the engine. The default (the registry's, the builder's, else the training engine's) tells
    the type; a string that does not convert, or a parameter whose default is a string or None
    (``pretrained: /path/to/weights.pth``, ``gamma: scale``), is left as it is.
    """
    if not isinstance(params, MutableMapping):
        return
    for key, value in list(params.items()):
        if not isinstance(value, str):
            continue
        default = _param_default(name, key)
        # A number reads as YAML would read it ('2' -> 2, '0.5' -> 0.5), whichever of int or float the default is:
        # warmup_epochs defaults to 1 in the registry and is a float to the engine.
        types = {"boolean"} if isinstance(default, bool) else {"number"} if isinstance(default, int | float) else set()
        if types:
            params[key] = _from_string(value, types)


def _param_default(name: str, key: str) -> Any:
    from fvc.models.registry import TRAIN_PARAMS, get_spec

    spec = get_spec(name)
    if spec.default_params.get(key) is not None:
        return spec.default_params[key]
    parameter = inspect.signature(spec.builder).parameters.get(key)
    if parameter is not None and parameter.default not in (None, inspect.Parameter.empty):
        return parameter.default
    if spec.kind == "torch" and key in TRAIN_PARAMS:
        from dataclasses import fields

        from fvc.train.engine import TrainConfig  # imports scikit-learn's metrics: only for such a string

        field = next((f for f in fields(TrainConfig) if f.name == key), None)
        if field is not None and field.default is not None:
            return field.default
        if field is not None:  # a None default ("min_epochs: int | None"): the annotation's first type
            kind = str(field.type).split("|")[0].strip()
            return {"bool": False, "int": 0, "float": 0.0}.get(kind)
    return None


def _validate_input(config: Mapping[str, Any]) -> None:
    """``input.path`` exists (a folder or sheet; synth creates its own) and has groups enough for the folds.

    Counts are upper bounds taken cheaply at parse time (files that the index later rejects still count),
    so a config refused here could never have been split; the split itself checks the final numbers.
    """
    kind, path = config["input"]["kind"], Path(config["input"]["path"])
    if config["split"].get("strategy") == "leave_one_family_out":
        if kind != "synth" and not path.exists():
            raise ConfigError(f"config key 'input.path': '{path}' does not exist")
        from fvc.data.splits import heldout_families

        try:
            heldout_families(dict(config))  # one fold per family: the split checks each fold's balance
        except (ValueError, OSError) as exc:
            raise ConfigError(f"config key 'split.strategy': {exc}") from None
        return
    folds = int(config["split"]["folds"])
    if kind == "folder":
        if not path.is_dir():
            raise ConfigError(f"config key 'input.path': data folder '{path}' does not exist")
        counts, unit = {label: _count_files(path / label, folds) for label in _LABELS}, "file(s)"
        where = f"data folder '{path}' (each file is its own group)"
    elif kind == "sheet":
        if not path.is_file():
            raise ConfigError(f"config key 'input.path': sample sheet '{path}' does not exist")
        counts, unit = _count_sheet_groups(path, folds), "group(s)"
        where = f"sample sheet '{path}'"
        if counts is None:  # not a readable sheet: the index reports why, row by row
            return
    else:
        scenes = (config.get("synth") or {}).get("scenes")
        if scenes is None:
            from fvc.data.synth import SynthConfig

            scenes = SynthConfig().scenes
        counts, unit = {label: int(scenes) for label in _LABELS}, "group(s)"
        where = f"the synthetic corpus (synth.scenes: {scenes}, one real and one fake per scene)"
    label = min(_LABELS, key=lambda lab: counts[lab])
    if counts[label] < folds:
        raise ConfigError(
            f"config key 'split.folds': {folds} folds need at least {folds} groups of each label, but {where} has "
            f"{counts[label]} {label} {unit}; lower split.folds or add {label} videos"
        )


_LABELS = ("real", "fake")


def _validate_test_sets(config: Mapping[str, Any]) -> None:
    """Each ``test_sets.<name>``: a folder or sheet that exists, or a synthetic corpus with valid settings written
    somewhere other than the training corpus (both would be generated into one folder)."""
    for name, source in (config.get("test_sets") or {}).items():
        if source is None:  # dropped
            continue
        where = f"config key 'test_sets.{name}"
        path = Path(source["path"])
        if source["kind"] == "synth":
            from fvc.data.synth import SynthConfig

            try:
                SynthConfig(**(source.get("synth") or {}))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}.synth': {exc}") from None
            if config["input"]["kind"] == "synth" and path.resolve() == Path(config["input"]["path"]).resolve():
                raise ConfigError(f"{where}.path': '{path}' is the training corpus's folder (input.path); give the test set its own")
        elif not path.exists():
            raise ConfigError(f"{where}.path': {'data folder' if source['kind'] == 'folder' else 'sample sheet'} '{path}' does not exist")
        elif source["kind"] == "folder" and not any((path / label).is_dir() for label in _LABELS):
            raise ConfigError(f"{where}.path': data folder '{path}' has neither a real/ nor a fake/ subfolder")


def _count_files(folder: Path, enough: int) -> int:
    """Non-hidden files under ``folder`` (recursively), counting stops at ``enough``; 0 for a missing folder."""
    count = 0
    for _, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += sum(1 for f in files if not f.startswith("."))
        if count >= enough:
            return count
    return count


def _count_sheet_groups(sheet: Path, enough: int) -> dict[str, int] | None:
    """Distinct groups per label in a sample sheet (a row without a group is its own), stopping at ``enough``.

    ``None`` when the sheet cannot be read or has no ``label`` column: its own checks say why later.
    """
    groups: dict[str, set[str]] = {label: set() for label in _LABELS}
    try:
        with open(sheet, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, skipinitialspace=True)
            fields = {str(f).strip(): f for f in reader.fieldnames or []}
            if "label" not in fields:
                return None
            for line, row in enumerate(reader, start=2):
                label = (row.get(fields["label"]) or "").strip()
                if label not in groups:
                    continue
                group = (row.get(fields["group"]) or "").strip() if "group" in fields else ""
                groups[label].add(group or f"\0row {line}")
                if all(len(g) >= enough for g in groups.values()):
                    break
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return {label: len(g) for label, g in groups.items()}


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
        return _from_string(value, types)
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


def _from_string(value: str, types: set[str]) -> Any:
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


def _validate_hpo(hpo: Mapping[str, Any], known: list[str]) -> None:
    """What the schema cannot check of ``hpo``: registered models, searchable names, a coherent method."""
    from fvc.hpo.space import HpoConfig, check_space_names

    for name, values in hpo.items():
        if name not in known:
            raise ConfigError(f"config key 'hpo.{name}': unknown model '{name}' (registered: {', '.join(known)})")
        for param, choices in (values.get("space") or {}).items():
            if isinstance(choices, list):  # choices given with --config arrive as strings; the default types them
                for i, choice in enumerate(choices):
                    holder = {param: choice}
                    _coerce_param_values(name, holder)
                    choices[i] = holder[param]
        _check_param_choices(name, values.get("space") or {}, "hpo")
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
