"""Hyper-parameter search in the real workflow: an Optuna study and a grid feed the training, a killed search resumes."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO
from tests.reliability.harness import Background, unlock
from tests.workflow.runner import job_counts, run_snakemake

pytestmark = pytest.mark.slow

HPO = REPO / "tests" / "configs" / "hpo" / "config.yaml"
GRID = [(0.003, 0.0), (0.003, 0.5), (0.0003, 0.0), (0.0003, 0.5)]  # naive_cnn's (lr, dropout) grid in the config


@pytest.fixture(scope="module")
def hpo_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("hpo")
    run_snakemake(workdir, "--cores", "2", configfile=HPO)
    return workdir


def _grid_values(trials: pd.DataFrame) -> dict[tuple[float, float], float]:
    counted = trials[~trials["interrupted"]]
    return {(row.param_lr, row.param_dropout): row.value for row in counted.itertuples()}


def test_optuna_study_and_grid_finish_with_their_outputs(hpo_run):
    results = hpo_run / "results" / "hpo"
    optuna_trials = pd.read_parquet(results / "logistic_regression" / "trials.parquet")
    assert len(optuna_trials) == 6 and optuna_trials["state"].isin(["COMPLETE", "PRUNED"]).all()
    assert optuna_trials["param_C"].between(0.001, 100.0).all() and optuna_trials["param_C"].nunique() == 6
    grid_trials = pd.read_parquet(results / "naive_cnn" / "trials.parquet")
    assert sorted(_grid_values(grid_trials)) == sorted(GRID) and (grid_trials["state"] == "COMPLETE").all()
    for model in ("logistic_regression", "naive_cnn"):
        folder = results / model
        best = json.loads((folder / "best_params.json").read_text())
        complete = pd.read_parquet(folder / "trials.parquet").query("state == 'COMPLETE'")
        assert best["value"] == complete["value"].max()
        assert {"search.png", "history.png"} <= {p.name for p in (folder / "plots").iterdir()}
        assert (folder / "study_complete").stat().st_mtime_ns >= (folder / "best_params.json").stat().st_mtime_ns


def test_training_uses_the_best_parameters(hpo_run):
    results = hpo_run / "results"
    for model in ("logistic_regression", "naive_cnn"):
        best = json.loads((results / "hpo" / model / "best_params.json").read_text())["params"]
        for fold in (0, 1):
            used = json.loads((results / "models" / model / f"fold_{fold}" / "metrics.json").read_text())["params"]
            assert {k: used[k] for k in best} == best, (model, fold, used)
    assert json.loads((results / "models" / "naive_cnn" / "fold_0" / "metrics.json").read_text())["params"]["epochs"] == 2  # config kept


def test_every_trial_is_an_mlflow_run_nested_in_its_search(hpo_run):
    runs = [p.parent.parent for p in (hpo_run / "results" / "mlruns").glob("*/*/tags/hpo_trial")]
    assert len(runs) == 6 + 4
    assert all((run / "tags" / "mlflow.parentRunId").exists() for run in runs)
    assert all((run / "params" / "lr").exists() or (run / "params" / "C").exists() for run in runs)


def test_changed_best_parameters_retrain_the_model(hpo_run, tmp_path):
    """best_params.json is an input of the train rules: a new search result reruns their folds."""
    best = hpo_run / "results" / "hpo" / "logistic_regression" / "best_params.json"
    original = best.read_text()
    values = json.loads(original)
    best.write_text(json.dumps({**values, "params": {"C": values["params"]["C"] * 2}}))  # as a rerun search might
    try:
        proc = run_snakemake(hpo_run, "-n", configfile=HPO)
    finally:
        best.write_text(original)
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts.get("train") == 2 and "hpo" not in counts


def _trial_states(db: Path) -> dict[str, int]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05) as connection:
            return dict(connection.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    except sqlite3.Error:  # not created yet, or locked by the writer this instant
        return {}


def test_killed_grid_search_resumes_without_repeating_finished_trials(hpo_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(hpo_run, workdir, symlinks=True)
    shutil.rmtree(workdir / "results" / "hpo" / "naive_cnn")
    db = workdir / "results" / "hpo" / "naive_cnn" / "study.db"
    target = "results/hpo/naive_cnn/study_complete"
    with Background(workdir, "--cores", "1", target, log=tmp_path / "killed.log", configfile=HPO) as run:
        while run.running() and _trial_states(db).get("COMPLETE", 0) < 1:
            time.sleep(0.005)
        run.kill()
    with sqlite3.connect(db) as connection:  # read-write: rolls back a transaction the kill cut short
        states = dict(connection.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    assert 1 <= states.get("COMPLETE", 0) < len(GRID), f"the kill missed the search: {states}\n{run.output()[-3000:]}"
    with sqlite3.connect(db) as connection:
        before = connection.execute("SELECT number FROM trials WHERE state = 'COMPLETE' ORDER BY number").fetchall()
    unlock(workdir, configfile=HPO)
    proc = run_snakemake(workdir, "--cores", "1", "--rerun-incomplete", target, configfile=HPO)
    assert job_counts(proc.stdout + proc.stderr) == {"hpo": 1}

    trials = pd.read_parquet(workdir / "results" / "hpo" / "naive_cnn" / "trials.parquet")
    counted = trials[~trials["interrupted"]]
    assert len(counted) == len(GRID) and sorted(_grid_values(trials)) == sorted(GRID)  # each point exactly once
    assert trials["interrupted"].sum() <= 1  # at most the trial the kill interrupted, which then ran again
    assert set(counted["number"]) >= {n for (n,) in before}  # finished trials kept, not re-run
    reference = pd.read_parquet(hpo_run / "results" / "hpo" / "naive_cnn" / "trials.parquet")
    assert _grid_values(trials) == _grid_values(reference)  # and the same values as a search never killed
    best = json.loads((workdir / "results" / "hpo" / "naive_cnn" / "best_params.json").read_text())
    assert best["params"] == json.loads((hpo_run / "results" / "hpo" / "naive_cnn" / "best_params.json").read_text())["params"]


def test_trials_are_queryable(hpo_run):
    from fvc.query import run_query

    _, rows = run_query("SELECT model, count(*) FROM hpo_trials GROUP BY model ORDER BY model", hpo_run / "results")
    assert rows == [("logistic_regression", 6), ("naive_cnn", 4)]


def test_report_shows_the_search_plots(hpo_run, tmp_path):
    report = tmp_path / "report.html"
    run_snakemake(hpo_run, "--report", str(report), configfile=HPO)
    html = report.read_text(encoding="utf-8", errors="replace")
    assert "Hyper-parameter search" in html and "search.png" in html and "history.png" in html
