"""Name -> model spec, in the manner of timm's ``@register_model``.

A model family module decorates one builder function per model. The function's name is the model's
config name; the decorator records what the workflow needs to schedule it (input kind, default
parameters, resources). Nothing else lists models, so adding one is adding one function.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DATA_PARAMS", "GEOMETRY_PARAMS", "JOB_PARAMS", "TRAIN_PARAMS", "ModelSpec", "Resources", "check_choices", "choice_error", "create",
    "get_spec", "is_pretrained", "list_models", "model_kwargs", "param_names", "register_model", "resolve_params",
    "train_params",
]  # fmt: skip

# Family modules that register models; imported on first lookup so importing the registry stays cheap.
_FAMILY_MODULES = (
    "fvc.models.classical", "fvc.models.cnn2d", "fvc.models.deep_cnn", "fvc.models.vit_temporal", "fvc.models.video3d",
    "fvc.models.inception3d",
)  # fmt: skip

# Parameters that choose the data a model reads or how it is trained rather than the model itself; never
# passed to builders. The training engine reads them (see fvc.train.engine.TrainConfig).
DATA_PARAMS = frozenset({"clipset"})
TRAIN_PARAMS = frozenset({
    "epochs", "batch_size", "accumulate", "lr", "backbone_lr", "weight_decay", "warmup_epochs", "patience",
    "min_epochs", "monitor", "smoothing", "grad_clip", "amp", "num_workers", "inner_val_fraction", "label_smoothing",
    "precise_bn_batches", "freeze_bn_below",
})  # fmt: skip

# Builder arguments that config never sets: the training job passes the seed and its thread count.
JOB_PARAMS = frozenset({"seed", "n_jobs"})
# Builder arguments that default to the clipset's geometry (model_kwargs).
GEOMETRY_PARAMS = frozenset({"frames", "size", "img_size"})

_REGISTRY: dict[str, ModelSpec] = {}
_loaded = False


@dataclass(frozen=True)
class Resources:
    """What one training job of the model asks the scheduler for (Snakemake ``resources:``)."""

    mem_mb: int = 2000
    runtime: int = 30  # minutes
    gpu: int = 0
    threads: int = 1


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]
    kind: str  # "sklearn" or "torch": which training path fits it
    input: str  # "features", "frames" or "clip": which stage output it reads
    default_params: Mapping[str, Any] = field(default_factory=dict)
    resources: Resources = Resources()
    description: str = ""
    # Input normalisation and other data facts the model needs (timm's pretrained_cfg, in spirit).
    default_cfg: Mapping[str, Any] = field(default_factory=dict)
    # Parameters that take one of a few named values (``variant: plain | residual``): checked when the config is
    # parsed and when the model is built, listed by ``fvc models``.
    choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    # Builder parameters added after the model was first released, at the values that reproduce the network as
    # it was built before: a saved model whose kwargs lack one is rebuilt with this value, not today's default
    # (a pooling or an input that changed would otherwise load silently, or fail on a weight's shape).
    legacy_params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def needs_gpu(self) -> bool:
        return self.resources.gpu > 0


def register_model(
    *,
    kind: str,
    input: str,
    default_params: Mapping[str, Any] | None = None,
    resources: Resources | None = None,
    default_cfg: Mapping[str, Any] | None = None,
    choices: Mapping[str, Sequence[Any]] | None = None,
    legacy_params: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: file the builder under its ``__name__`` with its scheduling metadata.

    ``choices`` maps a builder parameter to the values it accepts (``{"variant": ("plain", "residual")}``);
    ``legacy_params`` the parameters added since the model was first saved, at their old behaviour
    (:attr:`ModelSpec.legacy_params`).
    """

    def decorate(builder: Callable[..., Any]) -> Callable[..., Any]:
        name = builder.__name__
        if name in _REGISTRY and _REGISTRY[name].builder is not builder:
            raise ValueError(f"model '{name}' is registered twice ({_REGISTRY[name].builder.__module__}, {builder.__module__})")
        doc = (builder.__doc__ or "").strip().splitlines()
        accepted = set(inspect.signature(builder).parameters)
        for what, given in (("choices", choices), ("legacy_params", legacy_params)):
            if unknown := set(given or {}) - accepted:
                raise ValueError(f"model '{name}': {what} for parameters the builder does not take: {sorted(unknown)}")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            kind=kind,
            input=input,
            default_params=dict(default_params or {}),
            resources=resources or Resources(),
            description=doc[0] if doc else "",
            default_cfg=dict(default_cfg or {}),
            choices={key: tuple(values) for key, values in (choices or {}).items()},
            legacy_params=dict(legacy_params or {}),
        )
        return builder

    return decorate


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    _load_families()
    return sorted(name for name in _REGISTRY if fnmatch.fnmatch(name, pattern))


def get_spec(name: str) -> ModelSpec:
    _load_families()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model '{name}' (registered: {', '.join(list_models())})") from None


def resolve_params(name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Registry defaults updated by config overrides; ``None`` values mean 'keep the default'."""
    params = dict(get_spec(name).default_params)
    params.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return params


def model_kwargs(name: str, params: Mapping[str, Any] | None = None, clip: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The builder's share of ``params``: defaults and overrides, minus data and training parameters.

    Geometry a builder takes (``frames``, ``size``, ``img_size``) and config leaves unset comes from the
    clipset the model reads (``clip``): a model is shaped by the clips it is given.
    """
    kwargs = {k: v for k, v in resolve_params(name, params).items() if k not in DATA_PARAMS | TRAIN_PARAMS}
    if clip:
        accepted = inspect.signature(get_spec(name).builder).parameters
        for key, source in (("frames", "frames"), ("size", "size"), ("img_size", "size")):
            if key in accepted and not kwargs.get(key):
                kwargs[key] = clip[source]
    return kwargs


def is_pretrained(value: Any) -> bool:
    """Whether a ``pretrained`` parameter asks for weights (``true`` or a file), in any of its spellings."""
    return value not in (None, False, "false", "False", "")


def choice_error(name: str, key: str, value: Any) -> str | None:
    """``"one of a, b, c"`` when ``value`` is not among parameter ``key``'s registered choices, else None.

    ``None`` passes (it means the default), as does a parameter without registered choices.
    """
    allowed = get_spec(name).choices.get(key)
    if allowed is None or value is None or value in allowed:
        return None
    return f"one of {', '.join(map(str, allowed))}"


def check_choices(name: str, params: Mapping[str, Any]) -> None:
    """``ValueError`` naming the allowed values when a parameter with registered choices has another value."""
    for key in get_spec(name).choices:
        if (allowed := choice_error(name, key, params.get(key))) is not None:
            raise ValueError(f"model '{name}': {key} must be {allowed}, got {params.get(key)!r}")


def create(name: str, **params: Any) -> Any:
    """Build model ``name``; data and training params (``clipset``, ``epochs``...) and ``None`` values are dropped."""
    spec = get_spec(name)
    kwargs = model_kwargs(name, params)
    check_choices(name, kwargs)
    try:
        return spec.builder(**kwargs)
    except TypeError as exc:
        raise TypeError(f"model '{name}': bad parameters {sorted(kwargs)}: {exc}") from None


def _load_families() -> None:
    global _loaded
    if not _loaded:
        for module in _FAMILY_MODULES:
            importlib.import_module(module)
        _loaded = True


def param_names(name: str) -> frozenset[str] | None:
    """Every key ``model_params.<name>`` accepts; ``None`` when the builder takes ``**kwargs`` (anything goes).

    The builder's arguments (less :data:`JOB_PARAMS`, which the job passes; geometry such as ``frames`` or
    ``img_size`` included, since config may fix it instead of the clipset), :data:`DATA_PARAMS` and, for torch
    models, :data:`TRAIN_PARAMS` (``fvc.train.engine.TrainConfig``). scikit-learn models are built from their
    builder arguments alone, so a training setting given to one would be silently dropped. Searchable names
    (``hpo.<model>.space``) are these less the data and geometry parameters.
    """
    spec = get_spec(name)
    parameters = inspect.signature(spec.builder).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    builder = {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL} - JOB_PARAMS
    return frozenset(builder | DATA_PARAMS | train_params(name))


def train_params(name: str) -> frozenset[str]:
    """The training-engine settings ``model_params.<name>`` may hold: :data:`TRAIN_PARAMS` for a torch model, none
    for a scikit-learn one (its builder arguments are all it reads)."""
    return TRAIN_PARAMS if get_spec(name).kind == "torch" else frozenset()
