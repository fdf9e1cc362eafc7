"""Pretrained weights: ``pretrained: false | true | <weights tag> | /path/to/weights`` for every torch model.

- ``false``: random initialisation.
- ``true``: the model's published weights (:mod:`fvc.models.hub`: ImageNet for timm backbones, Kinetics-400
  for the video networks), read from the weights cache, downloaded into it when missing and allowed.
- a tag (``x3d_m.kinetics400``, ``fvc weights list``): those published weights, where a model has several.
- a path: that file. timm backbones load it through ``pretrained_cfg_overlay=dict(file=...)``, so timm's own
  checkpoint filters still apply (ViT position embeddings resampled to the configured image size, the
  classifier dropped). The video networks take a file in their publisher's layout (torchvision's ``r3d_18``,
  PyTorchVideo's ``{"model_state": ...}``), mapped onto fvc's modules with the classification head left out,
  or a state dict of the fvc model itself. Tensors are read with ``weights_only=True``; a key or shape
  mismatch raises :class:`PretrainedError` naming the keys.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fvc.models.hub import PUBLISHED, CachedWeights, PretrainedError, WeightsConfig, cached_weights, published_for
from fvc.models.registry import is_pretrained

__all__ = [
    "PretrainedError", "PretrainedSpec", "apply_pretrained", "create_backbone", "load_state_dict_file", "load_weights", "resolve_pretrained",
]  # fmt: skip

PretrainedSpec = bool | str | os.PathLike[str] | None


def resolve_pretrained(
    name: str, pretrained: PretrainedSpec, kwargs: Mapping[str, Any], config: WeightsConfig | None = None
) -> tuple[Path | None, CachedWeights | None]:
    """The weights file ``pretrained`` names for model ``name`` built with ``kwargs``, and, for published
    weights, their verified cache entry (what metrics.json records).

    ``(None, None)`` for no weights; ``(path, None)`` for a file given by path; ``(path, cached)`` for ``true``
    or a tag, the file found in (or pulled into) ``config``'s cache. Fails with :class:`PretrainedError`
    when the model has no published weights at these settings, or they are missing and cannot be
    downloaded (the message holds the ``fvc weights pull`` command).
    """
    if not is_pretrained(pretrained):
        return None, None
    tag = None
    if pretrained not in (True, "true", "True"):
        text = str(pretrained)
        if Path(text).expanduser().is_file() or not (text in PUBLISHED or text.startswith("timm/")):
            path = Path(text).expanduser()
            if not path.is_file():
                raise PretrainedError(f"pretrained weights file '{path}' for '{name}' does not exist")
            return path, None
        tag = text
    weights = published_for(name, kwargs, tag)
    cached = cached_weights(weights, config or WeightsConfig.from_config(None), model=name)
    return cached.path, cached


def create_backbone(name: str, pretrained: PretrainedSpec, *, owner: str = "transfer", **kwargs: Any) -> nn.Module:
    """A timm model without classifier (``num_classes=0``), its weights chosen by ``pretrained``.

    ``owner`` is the fvc model the backbone belongs to, for messages.
    """
    import timm  # here, not at import: a job that builds no timm model should not pay for importing it

    if not is_pretrained(pretrained):
        return timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
    path, _ = resolve_pretrained(owner, pretrained, {"backbone": name, "vit": name})
    try:
        model = timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": str(path)}, **kwargs)
    except RuntimeError as exc:
        raise PretrainedError(f"weights in '{path}' do not fit backbone '{name}': {_first_line(exc)}") from exc
    _check_timm_keys(model, name, path)
    return model


def apply_pretrained(model: nn.Module, pretrained: PretrainedSpec, name: str, kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """``pretrained`` for a network fvc builds: false keeps the initialisation, anything else loads weights.

    ``kwargs`` are the builder's arguments (which published weights fit: depth, clip length...). A model with a
    ``published_layout()`` (the video networks) takes a file in its publisher's layout as well as its own.
    """
    path, _ = resolve_pretrained(name, pretrained, kwargs or {})
    if path is None:
        return model
    layout = getattr(model, "published_layout", None)
    if layout is None:
        load_weights(model, path)
        return model
    state = load_state_dict_file(path)
    target, ignore = layout()
    published = _mismatch(target, state, ignore)
    if not published:
        _load(target, state, ignore)
        return model
    own = _mismatch(model, state, ())
    if not own:
        _load(model, state, ())
        return model
    # Name the keys against the layout the file is closer to: a published checkpoint of another model, or a
    # state dict of another fvc model.
    closer = own if len(set(state) & set(model.state_dict())) > len(set(state) & set(target.state_dict())) else published
    raise PretrainedError(f"weights in '{path}' do not fit {name} ({type(model).__name__}): " + "; ".join(closer))


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint (``.pt``/``.pth`` or ``.safetensors``), unwrapped from common containers."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedError(f"pretrained weights file '{path}' does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state"):
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = state[key]
    if not isinstance(state, Mapping):
        raise PretrainedError(f"'{path}' holds a {type(state).__name__}, not a state dict")
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def load_weights(module: nn.Module, path: str | os.PathLike[str], *, ignore: Iterable[str] = ()) -> None:
    """Load a state dict file into ``module`` strictly; keys starting with an ``ignore`` prefix may differ."""
    state = load_state_dict_file(path)
    ignore = tuple(ignore)
    parts = _mismatch(module, state, ignore)
    if parts:
        raise PretrainedError(f"weights in '{path}' do not fit {type(module).__name__}: " + "; ".join(parts))
    _load(module, state, ignore)


def _mismatch(module: nn.Module, state: Mapping[str, torch.Tensor], ignore: tuple[str, ...]) -> list[str]:
    """``["missing: a, b", "unexpected: c", "shape mismatch: d (1,) vs (2,)"]``; empty when ``state`` fits."""
    own = module.state_dict()
    missing = sorted(k for k in own if k not in state and not k.startswith(ignore))
    unexpected = sorted(k for k in state if k not in own and not k.startswith(ignore))
    mismatched = sorted(f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
                        if k in state and state[k].shape != own[k].shape and not k.startswith(ignore))  # fmt: skip
    return [f"{label}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)) if keys]  # fmt: skip


def _load(module: nn.Module, state: Mapping[str, torch.Tensor], ignore: tuple[str, ...]) -> None:
    own = module.state_dict()
    module.load_state_dict({k: v for k, v in state.items() if k in own and not k.startswith(ignore)}, strict=False)


def _check_timm_keys(model: nn.Module, name: str, path: Path) -> None:
    """Fail on keys that do not fit, which timm only logs once it drops the classifier (non-strict load).

    The file is read again and passed through the family's own ``checkpoint_filter_fn`` (timm's
    conversions, e.g. ViT position-embedding resampling), minus classifier keys, before the comparison.
    """
    state = load_state_dict_file(path)
    family = sys.modules.get(type(model).__module__)
    filter_fn = getattr(family, "checkpoint_filter_fn", None)
    if filter_fn is not None:
        state = filter_fn(state, model)
    classifiers = model.pretrained_cfg.get("classifier") or ()
    classifiers = (classifiers,) if isinstance(classifiers, str) else tuple(classifiers)
    ignore = tuple(f"{c}." for c in classifiers)
    own = model.state_dict()
    # A ViT built with fewer blocks than the checkpoint (``depth``) keeps its first ones: the rest is dropped on
    # purpose, not a mismatch.
    blocks = getattr(model, "blocks", None)
    kept = len(blocks) if isinstance(blocks, nn.Sequential) else None
    unexpected = sorted(k for k in state if k not in own and not k.startswith(ignore) and not _dropped_block(k, kept))
    missing = sorted(k for k in own if k not in state)
    if unexpected or missing:
        parts = [f"{label}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected)) if keys]  # fmt: skip
        raise PretrainedError(f"weights in '{path}' do not fit backbone '{name}': " + "; ".join(parts))


def _dropped_block(key: str, kept: int | None) -> bool:
    """``blocks.<i>.…`` with ``i`` past the ``kept`` blocks of a shallower model."""
    match = re.match(r"blocks\.(\d+)\.", key)
    return kept is not None and match is not None and int(match.group(1)) >= kept


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
