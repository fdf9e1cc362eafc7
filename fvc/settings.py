"""A whole config checked: the schema first, then each domain's own check of its part.

This module sits at the top of the package because it is the one place that knows every domain; each check
lives next to the code that reads its part (see ``docs/architecture.md``), and :mod:`fvc.config` below them
all only loads schemas and validates shapes. The Snakefile calls :func:`validate_config` at parse time, so
a typo stops the run before any job starts; the CLI and the tests call the same function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fvc.config import ConfigError, validate_schema
from fvc.data.input_check import check_input_config, check_test_sets_config

__all__ = ["validate_config"]


def validate_config(config: Mapping[str, Any], *, check_models: bool = True, check_input: bool = True) -> Mapping[str, Any]:
    """Raise :class:`~fvc.config.ConfigError` naming the first offending key; return the config when it is valid.

    The schema (which types command-line strings in place, :func:`fvc.config.coerce_config`), then the domains:
    ``check_input``: ``input.path`` exists and holds groups enough of each label for ``split``
    (:mod:`fvc.data.input_check`), and so do the test sets; ``synth``, ``tracking`` and ``weights`` build
    their dataclasses;
    ``check_models``: every model is registered with parameters it accepts and a clipset that exists
    (:mod:`fvc.models.params`), and the searches are coherent (:func:`fvc.hpo.space.check_hpo_config`).
    Model checks import the registry but never torch.
    """
    config = validate_schema(config)
    if check_input:  # first: "too few groups for the folds" says more than what it implies for synth's own settings
        check_input_config(config)
        check_test_sets_config(config)
    _check_section(config, "synth", _synth_config)
    _check_section(config, "tracking", _tracking_config)
    _check_section(config, "weights", _weights_config)
    if not check_models:
        return config
    from fvc.hpo.space import check_hpo_config  # deferred: the registry imports the model families
    from fvc.models.params import check_models_config

    check_models_config(config)
    check_hpo_config(config.get("hpo") or {})
    return config


def _check_section(config: Mapping[str, Any], key: str, build: Callable[[Mapping[str, Any]], object]) -> None:
    """``build`` the section's dataclass; its refusal becomes an error that names the key."""
    try:
        build(config.get(key) or {})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config key '{key}': {exc}") from None


# The domains' dataclasses are imported when a config is checked, not with this module, so `fvc --help` and the
# Snakefile's parse start as fast as before.
def _synth_config(section: Mapping[str, Any]) -> object:
    from fvc.data.synth import SynthConfig

    return SynthConfig(**section)


def _tracking_config(section: Mapping[str, Any]) -> object:
    from fvc.track import TrackingConfig

    return TrackingConfig.from_config(section)


def _weights_config(section: Mapping[str, Any]) -> object:
    from fvc.models.hub import WeightsConfig

    return WeightsConfig.from_config(section)
