"""A still-image corpus end to end: seed 003's image CNNs, naive_cnn and transfer, every image scored on every fold.

The corpus is the synthetic one's stills alone (``synth: {images_only: true}``): each scene's middle frame, real and
fake, as PNG; the workflow treats every image as a 1-frame video.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.workflow.runner import run_snakemake

CONFIG = REPO / "tests" / "configs" / "images" / "config.yaml"
MODELS = ["deep_v1", "deep_v2", "naive_cnn", "transfer"]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("images")
    started = time.perf_counter()
    run_snakemake(workdir, "--cores", "2", configfile=CONFIG, timeout=1800)
    seconds = time.perf_counter() - started
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return workdir, pd.read_csv(workdir / config["input"]["path"] / "samples.csv"), seconds


@pytest.mark.slow
def test_corpus_is_images_only_with_every_label_and_family(image_run):
    workdir, table, _ = image_run
    assert table["path"].str.endswith(".png").all() and len(table) == 2 * 48
    assert table["label"].value_counts().to_dict() == {"real": 48, "fake": 48}
    assert set(table.loc[table["label"] == "fake", "family"]) == {"splice", "upsample", "double_compression"}
    videos = pd.read_parquet(workdir / "results" / "index" / "videos.parquet")
    assert len(videos) == len(table)
    assert pd.read_csv(workdir / "results" / "index" / "rejected.csv").empty


@pytest.mark.slow
def test_every_model_scores_every_image_on_every_fold(image_run, record_property):
    workdir, table, seconds = image_run
    results = workdir / "results"
    folds = pd.read_parquet(results / "splits" / "folds.parquet")
    assert len(folds) == len(table) and folds.groupby("group")["fold"].nunique().max() == 1
    for model in MODELS:
        for fold in (0, 1):
            predictions = pd.read_parquet(results / "models" / model / f"fold_{fold}" / "predictions.parquet")
            assert set(predictions["video_id"]) == set(folds.loc[folds["fold"] == fold, "video_id"]), (model, fold)
            assert predictions["score"].between(0.0, 1.0).all()
    summary = pd.read_csv(results / "compare" / "summary.csv")
    assert sorted(summary["model"]) == MODELS and summary["folds"].tolist() == [2] * 4
    assert summary["roc_auc_mean"].between(0.0, 1.0).all()
    # The table the run measured (video-level ROC-AUC, mean and std over the 2 folds), in the test's output.
    table_text = summary[["model", "roc_auc_mean", "roc_auc_std", "accuracy_mean", "warnings"]].to_string(index=False)
    print(f"\nimage corpus, {len(table)} stills, 2 folds, workflow {seconds:.0f} s\n{table_text}")
    record_property("auc", summary.set_index("model")["roc_auc_mean"].round(3).to_dict())
    record_property("workflow_seconds", round(seconds, 1))
