"""Manipulation families: the registry (:mod:`fvc.manipulations.registry`) and fvc's own families
(:mod:`fvc.manipulations.families`), which register on first lookup."""

from fvc.manipulations.registry import (
    ENTRY_POINT_GROUP,
    Manipulation,
    ManipulationSpec,
    apply_manipulation,
    get_manipulation,
    list_manipulations,
    register_manipulation,
    unregister_manipulation,
)

__all__ = [
    "ENTRY_POINT_GROUP", "Manipulation", "ManipulationSpec", "apply_manipulation", "get_manipulation", "list_manipulations",
    "register_manipulation", "unregister_manipulation",
]  # fmt: skip
