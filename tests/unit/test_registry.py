"""registry.json: config hash, code version, one entry per model x fold with its model file."""

from __future__ import annotations

import json

import fvc
from fvc.evaluate.registry import build_registry, code_version, config_hash, git_commit, write_registry
from fvc.io.atomic import write_json
from tests.conftest import REPO


def test_config_hash_ignores_key_order_but_not_values():
    a = {"seed": 0, "split": {"folds": 3}, "models": ["svm", "logistic_regression"]}
    b = {"models": ["svm", "logistic_regression"], "split": {"folds": 3}, "seed": 0}
    assert config_hash(a) == config_hash(b) and len(config_hash(a)) == 64
    assert config_hash(a) != config_hash({**a, "seed": 1})
    assert config_hash(a) != config_hash({**a, "models": ["logistic_regression", "svm"]})  # model order is meaningful


def test_git_commit_inside_and_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) is None
    if (REPO / ".git").exists():
        commit = git_commit(REPO)
        assert commit is not None and len(commit) == 40
    assert code_version()["fvc"] == fvc.__version__


def test_registry_has_one_entry_per_model_and_fold(tmp_path):
    metrics_paths = []
    for model, suffix in (("svm", "joblib"), ("naive_cnn", "pt")):
        for fold in (1, 0):
            fold_dir = tmp_path / "models" / model / f"fold_{fold}"
            video, clip = {"roc_auc": 0.5 + fold / 10}, {"roc_auc": 0.1}
            record = {"model": model, "fold": fold, "params": {"C": 1.0}, "video": video, "clip": clip, "model_file": f"model.{suffix}"}
            write_json(fold_dir / "metrics.json", record)
            (fold_dir / f"model.{suffix}").write_bytes(b"weights")
            metrics_paths.append(fold_dir / "metrics.json")
    config = {"seed": 0}
    entries = write_registry(tmp_path / "registry.json", metrics_paths, config)
    assert [(e["model"], e["fold"]) for e in entries] == [("naive_cnn", 0), ("naive_cnn", 1), ("svm", 0), ("svm", 1)]
    first = entries[0]
    assert first["model_path"].endswith("models/naive_cnn/fold_0/model.pt")
    assert entries[3]["model_path"].endswith("models/svm/fold_1/model.joblib")
    assert first["metrics"] == {"roc_auc": 0.5} and entries[1]["metrics"]["roc_auc"] == 0.6  # video level
    assert first["params"] == {"C": 1.0} and first["config_hash"] == config_hash(config)
    assert set(first["code_version"]) == {"fvc", "git_commit"}
    assert json.loads((tmp_path / "registry.json").read_text()) == entries
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert build_registry([], config) == []
    (tmp_path / "models" / "svm" / "fold_0" / "model.joblib").unlink()  # named but gone: no path, not a guess
    assert build_registry(metrics_paths, config)[2]["model_path"] is None
