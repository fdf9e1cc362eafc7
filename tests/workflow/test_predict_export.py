"""`fvc predict` and `fvc export` on models a tiny real run trained."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from fvc.data.synth import SynthConfig, generate_corpus
from fvc.inference import export_model, load_fold_models
from fvc.io.atomic import write_json
from fvc.models import create
from fvc.models.registry import model_kwargs
from tests.conftest import REPO
from tests.workflow.runner import run_snakemake

PREDICT = REPO / "tests" / "configs" / "predict" / "config.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("predict")
    run_snakemake(workdir, "--cores", "2", configfile=PREDICT)
    return workdir


def fvc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fvc.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_predict_scores_unseen_videos_on_the_right_side(trained, tmp_path):
    unseen = generate_corpus(tmp_path / "unseen", SynthConfig(scenes=2, frames=8, fps=8, stills=0, families=("upsample",), seed=99), progress=False)
    real = tmp_path / "unseen" / unseen.loc[unseen["label"] == "real", "path"].iloc[0]
    fake = tmp_path / "unseen" / unseen.loc[unseen["label"] == "fake", "path"].iloc[0]
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(b"not a video at all" * 50)
    proc = fvc("predict", str(real), str(fake), str(garbage), "--model", "logistic_regression", "--results", str(trained / "results"))
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False).set_index("path")
    assert float(table.loc[str(real), "score"]) < 0.5 < float(table.loc[str(fake), "score"])
    assert table.loc[str(fake), "label"] == "fake" and table.loc[str(real), "label"] == "real"
    assert "unreadable media" in table.loc[str(garbage), "error"] and table.loc[str(garbage), "score"] == ""
    as_json = json.loads(fvc("predict", str(fake), "--model", "naive_cnn", "--results", str(trained / "results"), "--format", "json").stdout)
    assert 0.0 <= as_json[0]["score"] <= 1.0 and {"fold_0", "fold_1"} <= set(as_json[0])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_trained_model_with_parity(trained, fmt):
    proc = fvc("export", "--model", "naive_cnn", "--fold", "0", "--format", fmt, "--results", str(trained / "results"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["max_abs_diff"] < 1e-4 and (trained / "results" / "exports" / "naive_cnn").exists()


def fake_fold(results, name: str, kwargs: dict, recipe: dict, *, random_norms: bool = False) -> None:
    """A model folder as training leaves it, without training (parity does not need trained weights).

    ``random_norms``: BatchNorm weights and statistics drawn at random, so that branches a fresh model starts at
    zero (zero-initialised residual ends) count in the comparison.
    """
    torch.manual_seed(0)
    # Saved as training saves them: every builder parameter, defaults included (offline: no published weights).
    kwargs = {**model_kwargs(name, kwargs), "pretrained": False}
    model = create(name, **kwargs)
    if random_norms:
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                torch.nn.init.uniform_(module.weight, 0.5, 1.5)
                torch.nn.init.normal_(module.bias, std=0.1)
                module.running_mean.normal_(std=0.1)
                module.running_var.uniform_(0.5, 2.0)
    fold_dir = results / "models" / name / "fold_0"
    fold_dir.mkdir(parents=True)
    torch.save({"name": name, "kwargs": kwargs, "state_dict": model.state_dict(), "default_cfg": {"mean": (0.5,) * 3, "std": (0.5,) * 3},
                "clip_recipe": recipe}, fold_dir / "model.pt")  # fmt: skip
    write_json(fold_dir / "training_complete", {"model": name, "fold": 0})


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
# x3d and variable_ar_cnn keep channels-last weights (and variable_ar_cnn converts its input): exported all the same.
@pytest.mark.parametrize(("name", "kwargs"), [("naive_cnn", {}), ("vit_gru", {"img_size": 32}), ("x3d", {"frames": 3, "size": 32}), ("variable_ar_cnn", {})])
def test_export_parity_within_1e4(tmp_path, name, kwargs, fmt):
    fake_fold(tmp_path, name, kwargs, {"frames": 3, "size": 32, "scaling": "fixed"})
    report = export_model(tmp_path, name, 0, fmt)
    assert report["max_abs_diff"] < 1e-4
    assert report["input_shape"] == [2, 3, 3, 32, 32]  # (B, T, C, H, W) or (B, C, T, H, W): both 2x3x3x32x32 here
    (loaded,) = load_fold_models(tmp_path, name)
    assert loaded.kind == "torch" and loaded.recipe.frames == 3


# Seed 003's image CNNs, every variant (tests/unit/test_deep_cnn.py checks the networks themselves).
DEEP_CNNS = [("deep_v1", {"variant": "plain"}), ("deep_v1", {"variant": "residual"}), ("deep_v2", {"architecture": "resnet"}),
             ("deep_v2", {"architecture": "densenet"}), ("deep_v2", {"architecture": "hybrid"})]  # fmt: skip


@pytest.mark.parametrize(("name", "kwargs"), DEEP_CNNS, ids=[f"{n}-{next(iter(k.values()))}" for n, k in DEEP_CNNS])
def test_deep_cnn_onnx_export_parity_within_1e4(tmp_path, name, kwargs):
    fake_fold(tmp_path, name, kwargs, {"frames": 3, "size": 32, "scaling": "fixed"}, random_norms=True)
    report = export_model(tmp_path, name, 0, "onnx")
    assert report["max_abs_diff"] < 1e-4, report
    print(f"{name} {kwargs}: ONNX max abs diff {report['max_abs_diff']:.2e}")
    (loaded,) = load_fold_models(tmp_path, name)
    assert loaded.kind == "torch" and loaded.model.head is not None


def test_export_rejects_sklearn_and_unknown(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trained folds"):
        export_model(tmp_path, "naive_cnn", 0, "onnx")
    fake_fold(tmp_path, "naive_cnn", {}, {"frames": 1, "size": 16, "scaling": "fixed"})
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(tmp_path, "naive_cnn", 0, "tflite")
    assert np.isfinite(export_model(tmp_path, "naive_cnn", 0, "torchscript")["max_abs_diff"])
