"""Pretrained weights: ``pretrained: false | true | /path/to/weights`` for every torch model.

- ``false``: random initialisation.
- ``true``: the backbone's published weights through timm's hub (needs network access).
- a path: offline. timm backbones load it through ``pretrained_cfg_overlay=dict(file=...)``, so timm's own
  checkpoint filters still apply (ViT position embeddings resampled to the configured image size, the
  classifier dropped); fvc's own modules load a state dict. Either way tensors are read with
  ``weights_only=True`` and a key or shape mismatch raises :class:`PretrainedError` naming the keys.
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

from fvc.models.registry import is_pretrained

__all__ = ["PretrainedError", "PretrainedSpec", "apply_pretrained", "create_backbone", "load_state_dict_file", "load_weights"]

PretrainedSpec = bool | str | os.PathLike[str] | None


class PretrainedError(RuntimeError):
    """Weights that cannot be loaded: missing file, or keys/shapes that do not fit the model."""


def create_backbone(name: str, pretrained: PretrainedSpec, **kwargs: Any) -> nn.Module:
    """A timm model without classifier (``num_classes=0``), its weights chosen by ``pretrained``."""
    import timm  # here, not at import: a job that builds no timm model should not pay for importing it

    if not is_pretrained(pretrained):
        return timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
    if pretrained in (True, "true", "True"):
        try:
            return timm.create_model(name, pretrained=True, num_classes=0, **kwargs)
        except Exception as exc:  # network, hub or cache errors surface in many types
            raise PretrainedError(
                f"could not fetch published weights for '{name}' ({type(exc).__name__}: {exc}); "
                "offline, set pretrained to a local weights file instead"
            ) from exc
    path = Path(pretrained)
    if not path.is_file():
        raise PretrainedError(f"pretrained weights file '{path}' for '{name}' does not exist")
    try:
        model = timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": str(path)}, **kwargs)
    except RuntimeError as exc:
        raise PretrainedError(f"weights in '{path}' do not fit backbone '{name}': {_first_line(exc)}") from exc
    _check_timm_keys(model, name, path)
    return model


def apply_pretrained(model: nn.Module, pretrained: PretrainedSpec, name: str) -> nn.Module:
    """``pretrained`` for a network fvc builds itself: false keeps the initialisation, a path loads it.

    ``true`` is refused: fvc fetches no published weights for its own networks.
    """
    if not is_pretrained(pretrained):
        return model
    if pretrained in (True, "true", "True"):
        raise ValueError(f"{name}: no published weights are fetched for this model; set pretrained to false or a weights file")
    load_weights(model, pretrained)
    return model


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
    own = module.state_dict()
    missing = sorted(k for k in own if k not in state and not k.startswith(ignore))
    unexpected = sorted(k for k in state if k not in own and not k.startswith(ignore))
    mismatched = sorted(f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
                        if k in state and state[k].shape != own[k].shape and not k.startswith(ignore))  # fmt: skip
    if missing or unexpected or mismatched:
        parts = [f"{label}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)) if keys]  # fmt: skip
        raise PretrainedError(f"weights in '{path}' do not fit {type(module).__name__}: " + "; ".join(parts))
    usable = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    module.load_state_dict(usable, strict=False)


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
