"""Real Snakemake runs of the tiny configuration: complete, idempotent, and resumable after a SIGKILL."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.workflow.runner import job_counts, run_snakemake, snakemake_cmd

pytestmark = pytest.mark.slow


@pytest.fixture
def finished_run(tiny_run) -> Path:
    return tiny_run


def test_run_produces_every_stage_output(finished_run):
    results = finished_run / "results"
    videos = pd.read_parquet(results / "index" / "videos.parquet")
    samples = pd.read_csv(finished_run / "data" / "synth" / "samples.csv")
    assert len(videos) == len(samples) and set(videos["label"]) == {"real", "fake"}
    assert pd.read_csv(results / "index" / "rejected.csv").empty
    folds = pd.read_parquet(results / "splits" / "folds.parquet")
    assert folds.groupby("group")["fold"].nunique().max() == 1
    features = pd.read_parquet(results / "features" / "forensic.parquet")
    assert set(features["video_id"]) == set(videos["video_id"])
    for fold in (0, 1):
        fold_dir = results / "models" / "logistic_regression" / f"fold_{fold}"
        assert {p.name for p in fold_dir.iterdir()} >= {"model.joblib", "predictions.parquet", "metrics.json", "training_complete"}
        complete = fold_dir / "training_complete"
        assert all(complete.stat().st_mtime_ns >= (fold_dir / name).stat().st_mtime_ns for name in ("model.joblib", "predictions.parquet", "metrics.json"))
        predictions = pd.read_parquet(fold_dir / "predictions.parquet")
        assert set(predictions["video_id"]) == set(folds.loc[folds["fold"] == fold, "video_id"])
    summary = pd.read_csv(results / "compare" / "summary.csv")
    assert sorted(summary["model"]) == ["hist_gradient_boosting", "logistic_regression", "naive_cnn", "random_forest", "svm"]
    assert summary["folds"].tolist() == [2] * 5
    assert summary["roc_auc_mean"].between(0.0, 1.0).all()
    assert (results / "benchmarks" / "train" / "logistic_regression_fold_0.tsv").exists()


def test_rerun_after_completion_schedules_nothing(finished_run):
    proc = run_snakemake(finished_run, "-n")
    assert job_counts(proc.stdout + proc.stderr) == {}
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_killed_run_resumes_to_the_same_summary(finished_run, tmp_path):
    reference = (finished_run / "results" / "compare" / "summary.csv").read_bytes()
    proc = subprocess.Popen(snakemake_cmd(tmp_path, "--cores", "2"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    marker = tmp_path / "results" / "splits" / "folds.parquet"
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole tree: snakemake and the job it is running
    proc.wait()
    assert not (tmp_path / "results" / "compare" / "summary.csv").exists(), "run finished before it could be killed"

    run_snakemake(tmp_path, "--unlock")
    resumed = run_snakemake(tmp_path, "--cores", "2", "--rerun-incomplete")
    counts = job_counts(resumed.stdout + resumed.stderr)
    assert "synth" not in counts and "index" not in counts, f"finished stages were redone: {counts}"
    assert (tmp_path / "results" / "compare" / "summary.csv").read_bytes() == reference


def test_same_config_same_bytes_in_a_fresh_directory(finished_run, tmp_path):
    shutil.copytree(finished_run / "data", tmp_path / "data")
    run_snakemake(tmp_path, "--cores", "1")
    for name in ("compare/summary.csv", "splits/folds.parquet", "features/forensic.parquet"):
        assert (tmp_path / "results" / name).read_bytes() == (finished_run / "results" / name).read_bytes(), name


def test_torch_model_fold_outputs_and_tracking(finished_run):
    import json

    import torch

    from fvc.learners.torch_fit import load_torch_model

    fold_dir = finished_run / "results" / "models" / "naive_cnn" / "fold_0"
    history = pd.read_csv(fold_dir / "history.csv")
    assert list(history["epoch"]) == [0, 1] and history["train_loss"].notna().all()
    model, saved = load_torch_model(fold_dir / "model.pt")
    assert saved["name"] == "naive_cnn" and model(torch.zeros(1, 2, 3, 32, 32)).shape == (1, 2)
    metrics = json.loads((fold_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["val_threshold"] <= 1.0 and metrics["best_epoch"] in (0, 1)
    assert (finished_run / "results" / "checkpoints" / "naive_cnn" / "fold_0" / "last.pt").exists()
    runs = list((finished_run / "results" / "mlruns").rglob("meta.yaml"))
    run_names = " ".join(p.read_text() for p in runs)
    assert "naive_cnn/fold_0" in run_names and "logistic_regression/fold_1" in run_names
    metric_files = list((finished_run / "results" / "mlruns").rglob("metrics/val_f1"))
    assert metric_files and len(metric_files[0].read_text().strip().splitlines()) == 2  # one value per epoch


def test_report_embeds_every_plot_and_table(finished_run):
    """``snakemake --report`` on the finished run: each plot and comparison table is embedded in the HTML."""
    import base64

    from fvc.evaluate.plot_names import plot_subcategory

    results = finished_run / "results"
    compare = results / "compare"
    models = sorted(pd.read_csv(compare / "summary.csv")["model"])
    with_history = sorted({p.parent.parent.name for p in (results / "models").glob("*/fold_*/history.csv")})
    plots = sorted((compare / "plots").glob("*.png"))
    expected = {f"{kind}-{m}.png" for kind in ("roc", "pr", "confusion") for m in models}
    expected |= {f"learning_curves-{m}.png" for m in with_history} | {"fold_metrics.png", "family_accuracy.png"}
    assert {p.name for p in plots} == expected
    paired = pd.read_csv(compare / "paired.csv")  # 2 folds: intervals, but too few folds for Wilcoxon
    assert len(paired) == len(models) * (len(models) - 1) // 2 and (paired["ci_low"] <= paired["ci_high"]).all()
    assert paired["wilcoxon_p"].isna().all() and paired["note"].str.contains(">= 5 folds").all()
    registry = json.loads((results / "registry.json").read_text())
    assert len(registry) == 2 * len(models) and len({e["config_hash"] for e in registry}) == 1
    assert all((finished_run / e["model_path"]).is_file() for e in registry)

    # logistic_regression is regularised into a constant (tests/configs/tiny): flagged in words wherever its
    # results are shown, the others are not.
    summary = pd.read_csv(compare / "summary.csv", keep_default_na=False).set_index("model")
    assert "fold 0: " in summary.loc["logistic_regression", "warnings"] and "fold 1: " in summary.loc["logistic_regression", "warnings"]
    assert re.search("single class|constant score", summary.loc["logistic_regression", "warnings"])
    assert all(e["warnings"] for e in registry if e["model"] == "logistic_regression")
    metrics = json.loads((results / "models" / "logistic_regression" / "fold_0" / "metrics.json").read_text())
    assert metrics["warnings"]

    run_snakemake(finished_run, "--report", "report.html")
    html = (finished_run / "report.html").read_text(encoding="utf-8")
    assert "degenerate" in html  # the summary caption explains the warnings column
    for path in [*plots, compare / "summary.csv", compare / "paired.csv"]:
        assert path.relative_to(finished_run).as_posix() in html, path.name
        assert base64.b64encode(path.read_bytes()).decode() in html, f"{path.name} is not embedded"
    for plot in plots:
        assert plot_subcategory(plot.stem) in html
