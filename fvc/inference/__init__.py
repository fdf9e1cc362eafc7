"""Using trained fold models: ``fvc predict`` on new files, ``fvc export``, and scoring external test sets.

Every model is reached through its learner (:mod:`fvc.learners`), so nothing here knows which kind it is.
"""

from fvc.inference.predict import (
    FoldModel,
    InputError,
    expand_inputs,
    export_model,
    load_fold_models,
    path_problem,
    predict_files,
    predict_table,
    resolve_models,
    trained_models,
)
from fvc.inference.test_sets import UnusableTestSet, score_test_set

__all__ = [
    "FoldModel", "InputError", "UnusableTestSet", "expand_inputs", "export_model", "load_fold_models", "path_problem",
    "predict_files", "predict_table", "resolve_models", "score_test_set", "trained_models",
]  # fmt: skip
