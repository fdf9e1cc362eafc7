"""Hyper-parameter search (config key ``hpo``): grid or Optuna studies whose best values feed the train rules.

Names are imported on first use (PEP 562): a train job reads only :mod:`fvc.hpo.best` and should not pay for
importing the search machinery.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "HpoConfig": "fvc.hpo.space", "SearchSpace": "fvc.hpo.space", "check_space_names": "fvc.hpo.space",
    "StudyResult": "fvc.hpo.study", "run_study": "fvc.hpo.study", "write_study_outputs": "fvc.hpo.study",
    "load_best_params": "fvc.hpo.best", "with_best_params": "fvc.hpo.best",
}  # fmt: skip
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fvc.hpo' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
