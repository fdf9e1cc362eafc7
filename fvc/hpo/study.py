"""Run a resumable hyper-parameter search as an Optuna study and write what the train rules read.

Both methods are Optuna studies in one storage (a SQLite file under ``results/hpo/<model>/`` unless
``storage`` names a database URL), so a killed search resumes where it stopped:

- ``grid``: every combination is enqueued once, in config order; a rerun enqueues only those that have not
  finished, so no finished trial runs again.
- ``optuna``: TPE (seeded) with an optional median pruner. The sampler is re-seeded before each trial from
  (seed, number of finished trials): a search killed and resumed proposes the same parameters as one that
  ran straight through.

A trial that was running when the process died is marked failed and ``interrupted`` and does not count;
its parameters come up again (grid: re-enqueued; optuna: the same seed), and a torch trial resumes from its
last epoch checkpoint. Every trial is an MLflow run nested in the search's run.

A trial that fails by its own error (an exception, a NaN value) counts towards the target like any other,
but the best of a search where most trials crashed is not trusted: unless at least
:data:`MIN_COMPLETED_SHARE` of the counted trials ended without an error (complete, or pruned by the
pruner), the search fails with the number of failed trials and their first errors, and writes no
best_params.json. It stops as soon as that share can no longer be reached. best_params.json records
``n_complete``, ``n_pruned``, ``n_failed`` (own errors), ``n_interrupted`` and the first errors.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fvc.data.recipe import ClipRecipe
from fvc.fingerprint import fingerprint
from fvc.hpo.best import load_best_params, with_best_params
from fvc.hpo.objective import SearchData, evaluate_params
from fvc.hpo.space import HpoConfig
from fvc.io.atomic import write_json, write_parquet
from fvc.learners import ClipSource, learner_class, recipe_dict
from fvc.models.hub import WeightsConfig
from fvc.track import TrackingConfig, tracking_run

__all__ = ["MIN_COMPLETED_SHARE", "SearchFailedError", "StudyResult", "load_best_params", "run_search", "run_study", "study_name", "trials_table", "with_best_params", "write_study_outputs"]

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"  # user attribute of a trial whose process died while it ran
ERROR = "error"  # user attribute: why a trial failed ("ValueError: ..."), for the failure message and summary
# Least share of the counted trials (complete + pruned + failed by their own error) that must end without an
# error (complete or pruned) for the search's best to be written.
MIN_COMPLETED_SHARE = 0.5
FAILURES_SHOWN = 3  # first failure reasons named in the error and in best_params.json


class SearchFailedError(RuntimeError):
    """Too many trials of a search failed by their own error (see :data:`MIN_COMPLETED_SHARE`)."""


@dataclass
class StudyResult:
    model: str
    study_name: str
    storage: str  # the URL, password hidden
    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    trials: pd.DataFrame  # one row per trial: number, state, value, seconds, interrupted, param_<name>...
    failures: list[dict[str, Any]] = field(default_factory=list)  # counted failed trials: {"trial", "error"}, in order


def study_name(model: str, cfg: HpoConfig, base_params: Mapping[str, Any], seed: int, sample: pd.DataFrame,
               clip_recipe: Mapping[str, Any] | None = None) -> str:  # fmt: skip
    """``<model>-<hash>`` of everything a trial's value depends on: a changed search is a new study."""
    # Not `trials` (raising it extends the study) nor `storage` (where the study lives is not what it is).
    settings = {k: v for k, v in dict(cfg.raw).items() if k not in ("trials", "storage")}
    parts = [model, settings, dict(base_params), seed, sorted(sample["video_id"]), sorted(sample["fold"].astype(int)), dict(clip_recipe or {})]
    return f"{model}-{fingerprint(*parts)[:12]}"


def run_search(
    model: str,
    base_params: Mapping[str, Any],
    hpo: Mapping[str, Any],
    *,
    folds_path: str | Path,
    seed: int,
    outputs: Mapping[str, str | Path],
    storage_path: str | Path,
    checkpoints: str | Path,
    recipe: ClipRecipe,
    features_path: str | Path | None = None,
    manifests: list[str] | None = None,
    threads: int = 1,
    tracking: TrackingConfig | None = None,
    store: str | Path | None = None,
    weights: WeightsConfig | None = None,
) -> StudyResult:
    """The ``hpo`` rule's job: sample, search folds, study, then the files the train rules read.

    ``outputs`` names ``best``, ``trials``, ``plots`` and ``complete`` (see :func:`write_study_outputs`).
    """
    from fvc.data.splits import make_folds, sample_groups

    cfg = HpoConfig.from_config(hpo)
    videos = pd.read_parquet(folds_path)
    sample = sample_groups(videos, cfg.sample_fraction, seed)
    try:
        search_folds = make_folds(sample, cfg.cv_folds, seed)
    except ValueError as exc:
        raise ValueError(f"hpo.{model}: the search sample ({len(sample)} videos, sample_fraction {cfg.sample_fraction}) "
                         f"cannot be cross-validated with cv_folds={cfg.cv_folds}: {exc}") from None  # fmt: skip
    # A feature table is read once for every trial; clips are read from their shards by each.
    source = ClipSource(manifests=list(manifests or []), features=pd.read_parquet(features_path) if features_path else None)
    data = SearchData(model, search_folds, seed, recipe, source, threads=threads, checkpoints=Path(checkpoints), weights=weights)
    log.info("hpo %s: %s search on %d of %d videos, %d search folds, metric %s", model, cfg.method, len(sample), len(videos),
             cfg.cv_folds, cfg.metric)  # fmt: skip
    result = run_study(model, base_params, cfg, data, storage_path=storage_path, tracking=tracking, store=store)
    write_study_outputs(result, cfg, **outputs)
    log.info("hpo %s: best %s %.4f with %s (trial %d)", model, cfg.metric, result.best_value, result.best_params, result.best_trial)
    return result


def run_study(
    model: str,
    base_params: Mapping[str, Any],
    cfg: HpoConfig,
    data: SearchData,
    *,
    storage_path: str | Path,
    tracking: TrackingConfig | None = None,
    store: str | Path | None = None,
) -> StudyResult:
    """Run (or resume) the search for ``model`` until ``cfg``'s trials have finished; return the best."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage, url = _storage(cfg.storage, Path(storage_path))
    name = study_name(model, cfg, base_params, data.seed, data.folds, recipe_dict(data.recipe))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True, pruner=_pruner(cfg))
    failed = _fail_interrupted(study, shared=cfg.storage is not None)
    target = cfg.n_trials()
    if cfg.method == "grid":
        _enqueue_grid(study, cfg.space.grid()[:target])
    rounds = cfg.rounds(learner_class(model).search_rounds(cfg.cv_folds))
    done = _counted(study)
    log.info("study %s in %s: %d of %d trials finished%s", name, url, len(done), target,
             f"; {failed} interrupted trial(s) will run again" if failed else "")  # fmt: skip

    tracking = tracking or TrackingConfig(enabled=False)
    with tracking_run(tracking, store or ".", f"hpo/{model}", {"model": model, "hpo_study": name, "hpo_method": cfg.method}) as parent:
        if parent is not None:
            parent.log_params({"model": model, "method": cfg.method, "metric": cfg.metric, "trials": target,
                               "sample_videos": len(data.folds), "cv_folds": cfg.cv_folds, "cv_rounds": rounds})  # fmt: skip
        while len(done := _counted(study)) < target:
            if cfg.method == "grid" and not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
                break
            if len(_failures(done)) > target - math.ceil(MIN_COMPLETED_SHARE * target):
                break  # even if every remaining trial completed, too few would have: fail now, not after them all
            slot = len(done)
            study.sampler = _sampler(cfg, data.seed, slot)
            objective = _Objective(model, base_params, cfg, data, rounds, tracking, store, name)
            study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=True)
            last = next(t for t in study.get_trials(deepcopy=False) if t.number == objective.number)
            best = _best_value(study)
            log.info("trial %d (%d/%d) %s %s: %s = %s (best %s)", last.number, slot + 1, target, last.state.name, last.params,
                     cfg.metric, _fmt(last.value), _fmt(best))  # fmt: skip
        table = trials_table(study)
        counted = _counted(study)
        failures = _failures(counted)
        _check_completed_share(model, len(counted), failures, target, name, url)
        complete = table[table["state"] == "COMPLETE"]
        if complete.empty:
            raise RuntimeError(f"hpo for '{model}': no trial completed ({table['state'].value_counts().to_dict()}); see the log for the errors")
        best_trial = study.best_trial
        if parent is not None:
            parent.log_metrics({f"best_{cfg.metric}": float(best_trial.value)}, step=0)
            parent.log_params({f"best.{k}": v for k, v in best_trial.params.items()})
    return StudyResult(model, name, url, dict(best_trial.params), float(best_trial.value), best_trial.number, table, failures)


def _failures(counted: list[Any]) -> list[dict[str, Any]]:
    """The counted trials that failed by their own error, in trial order, with the error each recorded."""
    failed = sorted((t for t in counted if t.state.name == "FAIL"), key=lambda t: t.number)
    return [{"trial": t.number, "error": t.user_attrs.get(ERROR, "no error recorded (see the job's log)")} for t in failed]


def _check_completed_share(model: str, n_counted: int, failures: list[dict[str, Any]], target: int, name: str, url: str) -> None:
    """:class:`SearchFailedError` unless :data:`MIN_COMPLETED_SHARE` of the counted trials ended without an error."""
    if not failures or n_counted - len(failures) >= MIN_COMPLETED_SHARE * n_counted:
        return
    reasons = "\n".join(f"  trial {f['trial']}: {f['error']}" for f in failures[:FAILURES_SHOWN])
    more = f"\n  ... and {len(failures) - FAILURES_SHOWN} more (see the job's log)" if len(failures) > FAILURES_SHOWN else ""
    raise SearchFailedError(
        f"hpo for '{model}': {len(failures)} of {n_counted} finished trials failed (target {target}); at least "
        f"{MIN_COMPLETED_SHARE:.0%} must complete (or be pruned) for the best parameters to be trusted, so no "
        f"best_params.json is written. First errors:\n{reasons}{more}\n"
        f"Failed trials stay in the study '{name}' ({url}) and count when it resumes: fix the cause, then delete "
        f"that study (for the default storage, the study.db file) to search again."
    )  # fmt: skip


class _Objective:
    def __init__(self, model: str, base_params: Mapping[str, Any], cfg: HpoConfig, data: SearchData, rounds: int,
                 tracking: TrackingConfig, store: str | Path | None, study: str) -> None:  # fmt: skip
        self.model, self.base_params, self.cfg, self.data = model, dict(base_params), cfg, data
        self.rounds, self.tracking, self.store, self.study = rounds, tracking, store, study
        self.number = -1  # the trial this objective ran

    def __call__(self, trial: Any) -> float:
        import optuna

        self.number = trial.number
        params = self.cfg.space.suggest(trial)
        key = fingerprint(params)
        prune = self.cfg.method == "optuna" and self.cfg.pruning

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if prune and trial.should_prune():
                raise optuna.TrialPruned(f"step {step}: {value:.4f} below the median of earlier trials")

        tags = {"model": self.model, "hpo_study": self.study, "hpo_trial": str(trial.number)}
        with tracking_run(self.tracking, self.store or ".", f"hpo/{self.model}/trial_{trial.number}", tags, nested=True) as tracker:
            if tracker is not None:
                tracker.log_params({**self.base_params, **params, "hpo_trial": trial.number})
            interrupted = False
            try:
                value = evaluate_params(self.data, {**self.base_params, **params}, rounds=self.rounds, metric=self.cfg.metric,
                                        report=report, checkpoint_key=key, tracker=tracker)  # fmt: skip
            except optuna.TrialPruned:
                if tracker is not None:
                    tracker.set_tags({"hpo_state": "PRUNED"})
                raise
            except KeyboardInterrupt:  # Ctrl-C: Optuna records a failure; mark it so the rerun runs it again
                interrupted = True
                trial.set_user_attr(INTERRUPTED, True)
                raise
            except Exception as exc:  # Optuna records a failure (catch=Exception); keep why, for the summary
                trial.set_user_attr(ERROR, f"{type(exc).__name__}: {exc}"[:500])
                if tracker is not None:
                    tracker.set_tags({"hpo_state": "FAIL"})
                raise
            finally:  # a trial that is over (a kill never gets here) has nothing left to resume from
                if self.data.checkpoints is not None and not interrupted:
                    shutil.rmtree(self.data.checkpoints / key, ignore_errors=True)
            if value != value:  # NaN: Optuna fails the trial without an exception
                trial.set_user_attr(ERROR, f"{self.cfg.metric} is NaN")
            if tracker is not None:
                tracker.log_metrics({self.cfg.metric: value}, step=0)
                tracker.set_tags({"hpo_state": "COMPLETE" if value == value else "FAIL"})
        return value


def trials_table(study: Any) -> pd.DataFrame:
    """Every trial of ``study``: number, state, value, seconds, interrupted and one ``param_<name>`` column each."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else float("nan")
        params = t.params or t.system_attrs.get("fixed_params", {})
        rows.append({"number": t.number, "state": t.state.name, "value": t.value if t.value is not None else float("nan"),
                     "seconds": seconds, "interrupted": bool(t.user_attrs.get(INTERRUPTED, False)),
                     **{f"param_{k}": v for k, v in params.items()}})  # fmt: skip
    table = pd.DataFrame(rows, columns=None if rows else ["number", "state", "value", "seconds", "interrupted"])
    for column in [c for c in table.columns if c.startswith("param_")]:
        numeric = pd.to_numeric(table[column], errors="coerce")
        mixed = numeric.isna() & table[column].notna()
        # A column mixing numbers and words (gamma: scale or 0.1) is stored as text so Parquet can hold it.
        if mixed.any() and not mixed.all() or table[column].map(type).eq(bool).any():
            table[column] = table[column].map(lambda v: None if v is None or v != v else str(v))
    return table


def write_study_outputs(result: StudyResult, cfg: HpoConfig, *, best: str | Path, trials: str | Path, plots: str | Path,
                        complete: str | Path) -> None:  # fmt: skip
    """trials table, plots, best_params.json, then ``study_complete`` strictly last."""
    from fvc.hpo.plots import write_search_plots

    table = result.trials
    write_parquet(trials, table)
    write_search_plots(table, cfg, result.model, plots)
    counts = table["state"].value_counts().to_dict()
    n_interrupted = int(table["interrupted"].sum()) if "interrupted" in table else 0
    write_json(best, {
        "model": result.model, "method": cfg.method, "metric": cfg.metric, "params": result.best_params,
        "value": result.best_value, "trial": result.best_trial, "study_name": result.study_name, "storage": result.storage,
        "n_complete": int(counts.get("COMPLETE", 0)), "n_pruned": int(counts.get("PRUNED", 0)),
        # failed by their own error (counted towards the target) / left running by a killed process (run again)
        "n_failed": int(counts.get("FAIL", 0)) - n_interrupted, "n_interrupted": n_interrupted,
        "min_completed_share": MIN_COMPLETED_SHARE, "failures": result.failures[:FAILURES_SHOWN],
        "sample_fraction": cfg.sample_fraction, "cv_folds": cfg.cv_folds,
    })  # fmt: skip
    write_json(complete, {"model": result.model, "study_name": result.study_name, "best_value": result.best_value})


def _storage(url: str | None, path: Path) -> tuple[Any, str]:
    """Optuna storage and its printable URL: the SQLite file ``path``, or a shared database ``url``."""
    import optuna
    from sqlalchemy.engine import make_url

    if url is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path.resolve()}"
        return optuna.storages.RDBStorage(url), url
    # A shared study: workers on other nodes write heartbeats, so a dead one's trial is failed, not left running.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are stable since Optuna 2.9
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=300)
    return storage, make_url(url).render_as_string(hide_password=True)


def _pruner(cfg: HpoConfig) -> Any:
    import optuna

    if cfg.method == "optuna" and cfg.pruning:
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def _sampler(cfg: HpoConfig, seed: int, slot: int) -> Any:
    import optuna

    trial_seed = int(np.random.SeedSequence([seed, slot]).generate_state(1)[0])
    if cfg.method == "grid":
        return optuna.samplers.RandomSampler(seed=trial_seed)  # unused: grid trials are enqueued with fixed values
    startup = cfg.startup_trials if cfg.startup_trials is not None else min(10, max(2, cfg.n_trials() // 4))
    return optuna.samplers.TPESampler(seed=trial_seed, n_startup_trials=startup)


def _fail_interrupted(study: Any, *, shared: bool) -> int:
    """Mark trials left running by a dead process as failed; return how many."""
    import optuna

    if shared:
        before = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # only trials whose heartbeat stopped: other workers may be alive
        return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))) - before
    # A local SQLite study belongs to this results folder, which Snakemake has locked: nothing else runs trials.
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in running:
        study._storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    return len(running)


def _counted(study: Any) -> list[Any]:
    """Finished trials that count towards the target: complete, pruned, or failed by their own error."""
    return [t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and not t.user_attrs.get(INTERRUPTED)]


def _params_key(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)


def _enqueue_grid(study: Any, grid: list[dict[str, Any]]) -> None:
    """Enqueue the grid points that have neither finished nor are already waiting, in grid order."""
    import optuna

    taken = {_params_key(t.params) for t in _counted(study)}
    taken |= {_params_key(t.system_attrs.get("fixed_params", {})) for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))}
    for point in grid:
        if _params_key(point) not in taken:
            study.enqueue_trial(point)


def _best_value(study: Any) -> float | None:
    values = [t.value for t in study.get_trials(deepcopy=False) if t.value is not None and t.state.name == "COMPLETE"]
    return max(values) if values else None


def _fmt(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"
