"""Hyper-parameter search: config and space checks, the search sample, resumable grid and Optuna studies."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from fvc.config import ConfigError
from fvc.settings import validate_config
from fvc.data.splits import make_folds, sample_groups
from fvc.data.recipe import ClipRecipe
from fvc.hpo.objective import SearchData
from fvc.learners import ClipSource
from fvc.hpo.space import HpoConfig, SearchSpace, check_space_names
from fvc.hpo.study import run_study, with_best_params, write_study_outputs
from tests.conftest import REPO


def feature_data(n: int = 48, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features where one column carries the label, videos in groups of two, and their search folds."""
    rng = np.random.default_rng(seed)
    label = np.arange(n) % 2
    x = rng.normal(size=(n, 4))
    x[:, 0] += 1.5 * label
    ids = [f"{i:016x}" for i in range(n)]
    features = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)]).assign(video_id=ids, copy=0)
    videos = pd.DataFrame({"video_id": ids, "group": [f"g{i // 2}" for i in range(n)], "label": np.where(label == 1, "fake", "real")})
    return features[["video_id", "copy", "f0", "f1", "f2", "f3"]], make_folds(videos, 3, seed=0)


def search(tmp_path, hpo: dict, name: str = "logistic_regression", db: str = "study.db"):
    features, folds = feature_data()
    cfg = HpoConfig.from_config(hpo)
    data = SearchData(name, folds, seed=3, recipe=ClipRecipe("forensic", frames=4, size=32, scaling="crop"), source=ClipSource(features=features))
    return run_study(name, {"clipset": "forensic"}, cfg, data, storage_path=tmp_path / db), cfg


def test_grid_is_the_product_of_the_choices_in_config_order():
    space = SearchSpace.from_config({"C": [0.1, 1.0], "gamma": ["scale", 0.01, 0.1]})
    grid = space.grid()
    assert len(grid) == 6 and grid[0] == {"C": 0.1, "gamma": "scale"} and grid[1] == {"C": 0.1, "gamma": 0.01} and grid[-1] == {"C": 1.0, "gamma": 0.1}


@pytest.mark.parametrize(
    ("hpo", "message"),
    [
        ({"method": "grid", "space": {"C": {"low": 0.1, "high": 1.0}}}, "grid needs a list of values"),
        ({"method": "optuna", "space": {"C": [1.0]}}, "needs trials"),
        ({"method": "random", "space": {"C": [1.0]}}, "method must be one of"),
        ({"method": "optuna", "trials": 3, "space": {"C": {"low": 0.0, "high": 1.0, "log": True}}}, "log range needs low > 0"),
        ({"method": "grid", "space": {"C": [1.0]}, "cv_folds": 3, "cv_rounds": 4}, "cv_rounds must be between 1 and cv_folds"),
        ({"method": "grid", "space": {}}, "space is empty"),
    ],
)
def test_bad_search_settings_are_refused_with_the_reason(hpo, message):
    with pytest.raises(ValueError, match=message):
        HpoConfig.from_config(hpo)


def test_searchable_names_are_the_models_parameters():
    check_space_names("svm", {"C": [1.0], "gamma": ["scale"]})
    check_space_names("naive_cnn", {"lr": [1e-3], "dropout": [0.1], "batch_size": [4]})  # training settings of a torch model
    with pytest.raises(ValueError, match="data a model reads cannot be searched"):
        check_space_names("naive_cnn", {"clipset": ["frames"]})
    with pytest.raises(ValueError, match="not a parameter of 'logistic_regression'"):
        check_space_names("logistic_regression", {"lr": [0.1]})  # an engine setting means nothing to scikit-learn


def test_config_errors_name_the_hpo_key():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["hpo"] = {"svm": {"method": "grid", "space": {"Cee": [1.0]}}}
    with pytest.raises(ConfigError, match=r"config key 'hpo.svm': hpo.svm.space.Cee: not a parameter"):
        validate_config(config)
    config["hpo"] = {"svm": {"method": "grid"}}
    with pytest.raises(ConfigError, match="hpo"):
        validate_config(config)
    config["hpo"] = {"svm": {"method": "grid", "space": {"C": [0.5, 2.0]}}}
    validate_config(config)


def test_search_sample_keeps_whole_groups_of_both_labels_and_is_deterministic():
    _, folds = feature_data(n=80)
    sample = sample_groups(folds, 0.25, seed=1)
    assert sample.equals(sample_groups(folds, 0.25, seed=1))
    assert not sample.equals(sample_groups(folds, 0.25, seed=2))
    assert set(sample["label"]) == {"real", "fake"}
    chosen = set(sample["group"])
    assert set(folds.loc[folds["group"].isin(chosen), "video_id"]) == set(sample["video_id"])  # no group split
    assert 0.2 <= len(sample) / len(folds) <= 0.35
    assert len(sample_groups(folds, 1.0, seed=1)) == len(folds)


def test_grid_search_runs_every_point_once_and_picks_the_best(tmp_path):
    result, cfg = search(tmp_path, {"method": "grid", "space": {"C": [0.001, 0.1, 10.0]}, "cv_folds": 3})
    table = result.trials
    assert sorted(table["param_C"]) == [0.001, 0.1, 10.0] and (table["state"] == "COMPLETE").all()
    assert result.best_value == table["value"].max()
    assert result.best_params == {"C": float(table.loc[table["value"].idxmax(), "param_C"])}


def test_killed_grid_search_resumes_without_repeating_finished_trials(tmp_path):
    hpo = {"method": "grid", "space": {"C": [0.001, 0.01, 0.1, 1.0]}, "trials": 2}
    first, _ = search(tmp_path, hpo)  # the first two points finish; the study stops there ...
    import optuna

    # ... then a third trial starts and its process dies: a RUNNING trial is left in the storage.
    study = optuna.load_study(study_name=first.study_name, storage=f"sqlite:///{tmp_path / 'study.db'}")
    orphan = study.ask()
    orphan.suggest_categorical("C", [0.001, 0.01, 0.1, 1.0])
    finished_before = first.trials[["number", "param_C", "value"]].to_dict("records")

    resumed, _ = search(tmp_path, {**hpo, "trials": 4})  # same study (trials is not part of its identity)
    table = resumed.trials
    assert resumed.study_name == first.study_name
    assert table.loc[table["number"] == orphan.number, "interrupted"].item() and table.loc[table["number"] == orphan.number, "state"].item() == "FAIL"
    counted = table[~table["interrupted"]]
    assert sorted(counted["param_C"]) == [0.001, 0.01, 0.1, 1.0]  # each grid point exactly once
    assert counted[["number", "param_C", "value"]].head(2).to_dict("records") == finished_before  # untouched

    straight, _ = search(tmp_path, {**hpo, "trials": 4}, db="straight.db")
    by_point = lambda t: dict(zip(t.loc[~t["interrupted"], "param_C"], t.loc[~t["interrupted"], "value"], strict=True))  # noqa: E731
    assert by_point(table) == by_point(straight.trials)
    assert resumed.best_params == straight.best_params


def test_resumed_optuna_study_proposes_what_an_uninterrupted_one_does(tmp_path):
    hpo = {"method": "optuna", "space": {"C": {"low": 0.001, "high": 100.0, "log": True}}, "trials": 3, "startup_trials": 2,
           "pruning": False}  # fmt: skip
    search(tmp_path, hpo)
    resumed, _ = search(tmp_path, {**hpo, "trials": 6})
    straight, _ = search(tmp_path, {**hpo, "trials": 6}, db="straight.db")
    assert len(resumed.trials) == 6
    assert resumed.trials["param_C"].tolist() == straight.trials["param_C"].tolist()
    assert resumed.trials["param_C"].nunique() == 6


def test_pruned_trials_stop_early_and_count(tmp_path):
    hpo = {"method": "optuna", "space": {"C": {"low": 1e-6, "high": 100.0, "log": True}}, "trials": 8, "startup_trials": 1, "cv_folds": 3}
    result, _ = search(tmp_path, hpo)
    states = result.trials["state"].value_counts().to_dict()
    assert sum(states.values()) == 8 and states.get("COMPLETE", 0) >= 2 and states.get("FAIL", 0) == 0


def test_study_outputs_and_best_params_feed_training(tmp_path):
    result, cfg = search(tmp_path, {"method": "optuna", "space": {"C": {"low": 0.001, "high": 100.0, "log": True}}, "trials": 5,
                                    "pruning": False})  # fmt: skip
    out = {"best": tmp_path / "best_params.json", "trials": tmp_path / "trials.parquet", "plots": tmp_path / "plots",
           "complete": tmp_path / "study_complete"}  # fmt: skip
    write_study_outputs(result, cfg, **out)
    best = json.loads(out["best"].read_text())
    assert best["params"] == result.best_params and best["n_complete"] == 5 and best["metric"] == "roc_auc"
    assert pd.read_parquet(out["trials"]).equals(result.trials)
    assert sorted(p.name for p in out["plots"].iterdir()) == ["history.png", "importance.png", "search.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in out["plots"].iterdir())
    merged = with_best_params({"clipset": "forensic", "C": 1.0, "max_iter": 100}, out["best"])
    assert merged == {"clipset": "forensic", "C": result.best_params["C"], "max_iter": 100}
    assert with_best_params({"C": 1.0}, None) == {"C": 1.0}


def test_trials_table_stores_mixed_choices_as_text(tmp_path):
    result, _ = search(tmp_path, {"method": "grid", "space": {"C": [1.0], "gamma": ["scale", 0.1]}}, name="svm")
    table = trials_table_roundtrip(result.trials, tmp_path)
    assert sorted(table["param_gamma"]) == ["0.1", "scale"]


def trials_table_roundtrip(table: pd.DataFrame, tmp_path) -> pd.DataFrame:
    table.to_parquet(tmp_path / "t.parquet")
    return pd.read_parquet(tmp_path / "t.parquet")



def test_a_database_url_shares_one_study_between_workers(tmp_path):
    """With ``storage`` set, the study lives in that database, not in the results folder of whoever runs it."""
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    hpo = {"method": "grid", "space": {"C": [0.01, 0.1, 1.0, 10.0]}, "trials": 2, "storage": shared}
    first, _ = search(tmp_path / "worker_a", hpo)
    second, _ = search(tmp_path / "worker_b", {**hpo, "trials": 4})  # another worker's results folder, same study
    assert first.storage == second.storage == shared and first.study_name == second.study_name
    assert sorted(second.trials["param_C"]) == [0.01, 0.1, 1.0, 10.0]
    assert not (tmp_path / "worker_a" / "study.db").exists() and not (tmp_path / "worker_b" / "study.db").exists()


def test_ctrl_c_during_a_trial_leaves_it_to_the_rerun(tmp_path, monkeypatch):
    import fvc.hpo.study as study_module

    real = study_module.evaluate_params
    calls = []

    def interrupted_on_the_second_trial(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    hpo = {"method": "grid", "space": {"C": [0.01, 0.1, 1.0]}}
    monkeypatch.setattr(study_module, "evaluate_params", interrupted_on_the_second_trial)
    with pytest.raises(KeyboardInterrupt):
        search(tmp_path, hpo)
    monkeypatch.setattr(study_module, "evaluate_params", real)
    result, _ = search(tmp_path, hpo)
    table = result.trials
    assert table["interrupted"].sum() == 1 and table.loc[table["interrupted"], "state"].item() == "FAIL"
    assert sorted(table.loc[~table["interrupted"], "param_C"]) == [0.01, 0.1, 1.0]


def test_a_search_where_most_trials_crash_fails_naming_the_failures(tmp_path):
    """Crashed trials count towards the target, but a best picked from the few that ran is not written."""
    from fvc.hpo.study import MIN_COMPLETED_SHARE, SearchFailedError, run_search

    assert MIN_COMPLETED_SHARE == 0.5
    features, folds = feature_data()
    features.to_parquet(tmp_path / "features.parquet")
    folds.to_parquet(tmp_path / "folds.parquet")
    # scikit-learn refuses a negative C: three of the four grid points crash the model.
    hpo = {"method": "grid", "space": {"C": [-1.0, -2.0, -3.0, 1.0]}, "cv_folds": 3, "sample_fraction": 1.0}
    out = {"best": tmp_path / "best_params.json", "trials": tmp_path / "trials.parquet", "plots": tmp_path / "plots",
           "complete": tmp_path / "study_complete"}  # fmt: skip

    def run():
        return run_search("logistic_regression", {"clipset": "forensic"}, hpo, folds_path=tmp_path / "folds.parquet", seed=3,
                          outputs=out, storage_path=tmp_path / "study.db", checkpoints=tmp_path / "ckpt",
                          recipe=ClipRecipe("forensic", frames=4, size=32, scaling="crop"),
                          features_path=tmp_path / "features.parquet")  # fmt: skip

    with pytest.raises(SearchFailedError) as caught:
        run()
    message = str(caught.value)
    # Three failures out of a target of four: two completions are out of reach, so the fourth never runs.
    assert "3 of 3 finished trials failed (target 4)" in message, message
    assert "trial 0: InvalidParameterError" in message and "'C' parameter" in message and "trial 2:" in message
    assert "study.db" in message
    assert not any(p.exists() for p in out.values())

    # The failures stay in the study: resuming it fails the same way at once, without running a trial.
    import optuna

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    (name,) = optuna.get_all_study_names(storage)
    with pytest.raises(SearchFailedError, match="3 of 3 finished trials failed"):
        run()
    finished = [t for t in optuna.load_study(study_name=name, storage=storage).trials if t.state.is_finished()]
    assert len(finished) == 3 and all(t.state.name == "FAIL" for t in finished)


def test_a_search_with_few_crashes_records_them_in_best_params(tmp_path):
    hpo = {"method": "grid", "space": {"C": [-1.0, 0.1, 1.0, 10.0]}, "cv_folds": 3}
    result, cfg = search(tmp_path, hpo)
    out = {"best": tmp_path / "best_params.json", "trials": tmp_path / "trials.parquet", "plots": tmp_path / "plots",
           "complete": tmp_path / "study_complete"}  # fmt: skip
    write_study_outputs(result, cfg, **out)
    best = json.loads(out["best"].read_text())
    assert (best["n_complete"], best["n_failed"], best["n_interrupted"], best["n_pruned"]) == (3, 1, 0, 0)
    assert best["min_completed_share"] == 0.5 and best["params"]["C"] > 0
    assert [f["trial"] for f in best["failures"]] == [0] and best["failures"][0]["error"].startswith("InvalidParameterError")
