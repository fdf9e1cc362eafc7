"""What a train job reads from a finished search: its best parameters (kept free of Optuna and torch imports)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["load_best_params", "with_best_params"]


def load_best_params(path: str | Path) -> dict[str, Any]:
    return dict(json.loads(Path(path).read_text(encoding="utf-8"))["params"])


def with_best_params(params: Mapping[str, Any], path: str | Path | None) -> dict[str, Any]:
    """``params`` with a search's best values on top (they win over config values of the same names)."""
    if not path:
        return dict(params)
    return {**params, **load_best_params(path)}
