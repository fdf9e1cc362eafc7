"""Hyper-parameter search (config key ``hpo``): grid or Optuna studies whose best values feed the train rules."""

from fvc.hpo.space import HpoConfig, SearchSpace, check_space_names
from fvc.hpo.study import StudyResult, load_best_params, run_study, with_best_params, write_study_outputs

__all__ = ["HpoConfig", "SearchSpace", "StudyResult", "check_space_names", "load_best_params", "run_study", "with_best_params",
           "write_study_outputs"]  # fmt: skip
