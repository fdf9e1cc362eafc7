"""Hyper-parameter search settings (config key ``hpo.<model>``) and the search space they describe.

A search space maps parameter names to either a list of values (a categorical choice; what a grid
enumerates) or a range ``{low, high[, log][, step][, type]}`` (Optuna only). Parameters are the model's own
(builder arguments) or training settings (``lr``, ``batch_size``...), never ``clipset``: the data a model
reads is fixed by the workflow's DAG, not by a trial.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["METHODS", "HpoConfig", "ParamRange", "SearchSpace", "check_hpo_config", "check_space_names"]

METHODS = ("grid", "optuna")
# Metrics of fvc.evaluate.metrics.binary_metrics that a search can maximise (video level, held-out round).
METRICS = ("roc_auc", "average_precision", "f1", "balanced_accuracy", "accuracy")


@dataclass(frozen=True)
class ParamRange:
    """A numeric range for Optuna: ``int`` when ``type`` says so or both bounds are integers."""

    low: float
    high: float
    log: bool = False
    step: float | None = None
    type: str = "float"

    @classmethod
    def from_config(cls, name: str, values: Mapping[str, Any]) -> ParamRange:
        unknown = set(values) - {"low", "high", "log", "step", "type"}
        if unknown or not {"low", "high"} <= set(values):
            raise ValueError(f"hpo space '{name}': a range needs low and high (and optionally log, step, type), got {sorted(values)}")
        low, high = values["low"], values["high"]
        kind = values.get("type") or ("int" if isinstance(low, int) and isinstance(high, int) else "float")
        if kind not in ("int", "float"):
            raise ValueError(f"hpo space '{name}': type must be int or float, got {kind!r}")
        if not low < high:
            raise ValueError(f"hpo space '{name}': low ({low}) must be below high ({high})")
        if values.get("log") and low <= 0:
            raise ValueError(f"hpo space '{name}': a log range needs low > 0, got {low}")
        return cls(low=low, high=high, log=bool(values.get("log", False)), step=values.get("step"), type=kind)


@dataclass(frozen=True)
class SearchSpace:
    """Parameter name -> list of choices or :class:`ParamRange`, in config order."""

    params: Mapping[str, Sequence[Any] | ParamRange]

    @classmethod
    def from_config(cls, space: Mapping[str, Any]) -> SearchSpace:
        if not space:
            raise ValueError("hpo space is empty: name at least one parameter")
        params: dict[str, Sequence[Any] | ParamRange] = {}
        for name, values in space.items():
            if isinstance(values, Mapping):
                params[name] = ParamRange.from_config(name, values)
            elif isinstance(values, Sequence) and not isinstance(values, str) and len(values) > 0:
                params[name] = list(values)
            else:
                raise ValueError(f"hpo space '{name}': expected a non-empty list of values or a {{low, high}} range, got {values!r}")
        return cls(params)

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the choices, in config order (the last parameter varies fastest)."""
        ranges = [n for n, v in self.params.items() if isinstance(v, ParamRange)]
        if ranges:
            raise ValueError(f"hpo method grid needs a list of values for every parameter; {ranges} are ranges (use method: optuna)")
        names = list(self.params)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*self.params.values())]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The trial's values, drawn through Optuna's ``suggest_*`` (fixed values of enqueued trials included)."""
        values = {}
        for name, spec in self.params.items():
            if isinstance(spec, ParamRange):
                if spec.type == "int":
                    values[name] = trial.suggest_int(name, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log)
                else:
                    values[name] = trial.suggest_float(name, spec.low, spec.high, step=spec.step, log=spec.log)
            else:
                values[name] = trial.suggest_categorical(name, list(spec))
        return values


@dataclass(frozen=True)
class HpoConfig:
    """Config key ``hpo.<model>``.

    ``cv_folds`` group-stratified folds are made on the sample; a trial trains on all but one and scores the
    held-out one, for ``cv_rounds`` of them (default: every fold for scikit-learn models, one for torch
    models, whose trials are expensive). The trial's value is the mean of ``metric`` over rounds.
    """

    method: str
    space: SearchSpace
    trials: int | None = None  # optuna: how many trials; grid: every combination (a smaller number caps it)
    metric: str = "roc_auc"
    sample_fraction: float = 1.0
    cv_folds: int = 3
    cv_rounds: int | None = None
    pruning: bool = True  # optuna: median pruner on epoch (torch) or round (scikit-learn) values
    startup_trials: int | None = None  # optuna: random trials before TPE takes over
    storage: str | None = None  # an RDB URL for a study shared across jobs; default a SQLite file in results/
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> HpoConfig:
        values = dict(values)
        method = values.get("method")
        if method not in METHODS:
            raise ValueError(f"hpo method must be one of {', '.join(METHODS)}, got {method!r}")
        space = SearchSpace.from_config(values.get("space") or {})
        metric = values.get("metric", "roc_auc")
        if metric not in METRICS:
            raise ValueError(f"hpo metric must be one of {', '.join(METRICS)}, got {metric!r}")
        trials = values.get("trials")
        if method == "optuna" and not trials:
            raise ValueError("hpo method optuna needs trials (how many to run)")
        if method == "grid":
            space.grid()  # ranges are an error for a grid
        fraction = float(values.get("sample_fraction", 1.0))
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"hpo sample_fraction must be in (0, 1], got {fraction}")
        cv_folds = int(values.get("cv_folds", 3))
        if cv_folds < 2:
            raise ValueError(f"hpo cv_folds must be at least 2, got {cv_folds}")
        rounds = values.get("cv_rounds")
        if rounds is not None and not 1 <= int(rounds) <= cv_folds:
            raise ValueError(f"hpo cv_rounds must be between 1 and cv_folds ({cv_folds}), got {rounds}")
        return cls(
            method=method, space=space, trials=trials, metric=metric, sample_fraction=fraction, cv_folds=cv_folds,
            cv_rounds=int(rounds) if rounds is not None else None, pruning=bool(values.get("pruning", True)),
            startup_trials=values.get("startup_trials"), storage=values.get("storage"), raw=values,
        )  # fmt: skip

    def rounds(self, default: int) -> int:
        """Inner rounds per trial: ``cv_rounds`` where set, else the learner's own ``default``."""
        return self.cv_rounds or default

    def n_trials(self) -> int:
        if self.method == "grid":
            size = len(self.space.grid())
            return min(size, self.trials) if self.trials else size
        return int(self.trials or 0)


def check_space_names(model: str, space: Mapping[str, Any]) -> None:
    """Every searched name is a parameter of ``model``'s builder or a training setting; never ``clipset``."""
    from fvc.models.registry import DATA_PARAMS, GEOMETRY_PARAMS, param_names

    # Clip geometry comes from the clipset (model_kwargs), randomness and threads from the job.
    names = param_names(model)
    if names is None:  # a builder taking **kwargs: it decides what it accepts
        return
    allowed = names - DATA_PARAMS - GEOMETRY_PARAMS
    for name in space:
        if name in DATA_PARAMS:
            raise ValueError(f"hpo.{model}.space.{name}: the data a model reads cannot be searched")
        if name not in allowed:
            raise ValueError(f"hpo.{model}.space.{name}: not a parameter of '{model}' (searchable: {', '.join(sorted(allowed))})")


def check_hpo_config(hpo: Mapping[str, Any]) -> None:
    """What the schema cannot check of ``hpo``: registered models, searchable names and choices, a coherent method.

    Choices given with ``--config`` arrive as strings; each is typed as its parameter's default, in place.
    """
    from fvc.config import ConfigError
    from fvc.models.params import check_param_choices, coerce_param_values
    from fvc.models.registry import list_models

    known = list_models()
    for name, values in hpo.items():
        if name not in known:
            raise ConfigError(f"config key 'hpo.{name}': unknown model '{name}' (registered: {', '.join(known)})")
        for param, choices in (values.get("space") or {}).items():
            if isinstance(choices, list):
                for i, choice in enumerate(choices):
                    holder = {param: choice}
                    coerce_param_values(name, holder)
                    choices[i] = holder[param]
        check_param_choices(name, values.get("space") or {}, "hpo")
        try:
            HpoConfig.from_config(values)
            check_space_names(name, values["space"])
        except ValueError as exc:
            raise ConfigError(f"config key 'hpo.{name}': {exc}") from None
