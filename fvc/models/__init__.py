"""Model registry: every model is a ``@register_model`` function; ``create`` is the only way to build one."""

from fvc.models.registry import ModelSpec, create, get_spec, list_models, register_model, resolve_params

__all__ = ["ModelSpec", "create", "get_spec", "list_models", "register_model", "resolve_params"]
