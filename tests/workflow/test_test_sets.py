"""External test sets in real Snakemake runs: models trained on corpus A score corpus B exactly as `fvc predict`
scores B's files; adding a test set retrains nothing; overlaps, bad files and unusable sets are reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fvc.inference import UnusableTestSet, load_fold_models, predict_files, score_test_set
from tests.workflow.runner import TINY, job_counts, run_snakemake

pytestmark = pytest.mark.slow

MODELS = ["logistic_regression", "naive_cnn"]
OTHER = {"kind": "synth", "path": "data/other",
         "synth": {"scenes": 6, "frames": 12, "fps": 8, "crf": 26, "stills": 0, "sizes": [[96, 96], [128, 72]],
                   "families": ["regrain", "splice", "flicker"]}}  # fmt: skip


def _config(tmp_path: Path, test_sets: dict) -> Path:
    config = yaml.safe_load(TINY.read_text())
    # The shipped synth_unseen (config/config.yaml, merged below this file) is dropped: these tests bring their own.
    config.update(models=MODELS, test_sets={"synth_unseen": None, **test_sets}, tracking={"enabled": False})
    config["model_params"] = {"naive_cnn": {"epochs": 2, "batch_size": 4}}
    path = tmp_path / f"config_{len(list(tmp_path.glob('config_*')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory) -> tuple[Path, Path]:
    """Models trained on corpus A (the tiny corpus) and scored on corpus B (another seed, sizes, an unseen family)."""
    tmp = tmp_path_factory.mktemp("test_sets")
    work = tmp / "run"
    configfile = _config(tmp, {"other": OTHER})
    run_snakemake(work, "--cores", "2", configfile=configfile, timeout=900)
    return work, tmp


def test_scores_equal_fvc_predict_on_the_test_files(two_corpora):
    work, _ = two_corpora
    results = work / "results"
    videos = pd.read_parquet(results / "test" / "other" / "index" / "videos.parquet")
    assert len(videos) == 12 and "regrain" in set(videos["family"])
    summary = pd.read_csv(results / "compare" / "test_summary.csv")
    video_rows = summary[summary["level"] == "video"]
    assert sorted(video_rows["model"]) == MODELS and (video_rows["folds"] == 2).all()
    assert {"roc_auc_mean", "roc_auc_std", "roc_auc_ensemble", "average_precision_mean", "eer_mean", "cv_roc_auc_mean",
            "accuracy_at_val_threshold_mean", "accuracy_at_val_threshold_ensemble"} <= set(summary.columns)  # fmt: skip
    fold_0 = json.loads((results / "test" / "other" / "naive_cnn" / "fold_0" / "metrics.json").read_text())
    trained = json.loads((results / "models" / "naive_cnn" / "fold_0" / "metrics.json").read_text())
    assert fold_0["val_threshold"] == trained["val_threshold"]  # the fold's own decision threshold
    assert {"family:regrain", "family:splice", "family:flicker"} <= set(summary["level"])
    assert (results / "compare" / "test_plots" / "test_auc_heatmap.png").is_file()
    assert (results / "compare" / "test_plots" / "test_roc-other.png").is_file()
    for model in MODELS:
        table = predict_files([str(p) for p in videos["file"]], load_fold_models(results, model))
        predicted = pd.Series(table["score"].to_numpy(), index=videos["video_id"].to_numpy())
        for part in ("fold_0", "fold_1", "ensemble"):
            assert (results / "test" / "other" / model / part / "metrics.json").is_file()
        ensemble = pd.read_parquet(results / "test" / "other" / model / "ensemble" / "predictions.parquet").set_index("video_id")["score"]
        assert np.abs(predicted.reindex(ensemble.index) - ensemble).max() <= 1e-6, model


def test_a_new_test_set_retrains_nothing_and_overlaps_are_reported(two_corpora):
    """The training corpus itself as a test set: scheduled alone, scored, and reported as not unseen."""
    work, tmp = two_corpora
    configfile = _config(tmp, {"other": OTHER, "again": {"kind": "sheet", "path": "data/synth/samples.csv"}})
    counts = job_counts(run_snakemake(work, "-n", configfile=configfile).stdout)
    assert counts and not {"train", "clips", "features", "index", "split"} & set(counts), counts
    assert {"test_index", "test_clips", "test_score", "test_summary"} <= set(counts)
    assert counts["test_score"] == len(MODELS)
    run_snakemake(work, "--cores", "2", configfile=configfile, timeout=900)
    training = pd.read_parquet(work / "results" / "index" / "videos.parquet")
    metrics = json.loads((work / "results" / "test" / "again" / "naive_cnn" / "ensemble" / "metrics.json").read_text())
    assert len(metrics["in_training"]) == len(training) and metrics["n_videos"] == 0
    summary = pd.read_csv(work / "results" / "compare" / "test_summary.csv")
    assert (summary.loc[(summary["test_set"] == "again") & (summary["level"] == "video"), "n_in_training"] == len(training)).all()


def test_bad_files_are_listed_and_the_rest_scored(two_corpora):
    work, tmp = two_corpora
    folder = tmp / "mixed"
    for label in ("real", "fake"):
        (folder / label).mkdir(parents=True)
        for source in sorted((work / "data" / "other" / label).glob("*.mp4"))[:2]:
            shutil.copy(source, folder / label / source.name)
    (folder / "fake" / "truncated.mp4").write_bytes((work / "data" / "other" / "real" / "scene_000.mp4").read_bytes()[:300])
    (folder / "real" / "notes.mp4").write_text("not a video")
    configfile = _config(tmp, {"other": OTHER, "mixed": {"kind": "folder", "path": str(folder)}})
    run_snakemake(work, "--cores", "2", configfile=configfile, timeout=900)
    metrics = json.loads((work / "results" / "test" / "mixed" / "logistic_regression" / "fold_0" / "metrics.json").read_text())
    assert metrics["n_videos"] == 4
    assert any("truncated.mp4" in r for r in metrics["rejected"]) and any("notes.mp4" in r for r in metrics["rejected"])


def test_a_test_set_with_no_usable_file_fails_naming_it(two_corpora, tmp_path):
    work, _ = two_corpora
    results = work / "results"
    training = pd.read_parquet(results / "index" / "videos.parquet")
    with pytest.raises(UnusableTestSet, match="test set 'empty': no readable video"):
        score_test_set(results, "naive_cnn", "empty", training.iloc[:0], training_videos=training, out_dir=tmp_path)
    folder = tmp_path / "garbage"
    for label in ("real", "fake"):
        (folder / label).mkdir(parents=True)
        (folder / label / "x.mp4").write_text("garbage")
    configfile = _config(tmp_path, {"garbage": {"kind": "folder", "path": str(folder)}})
    proc = run_snakemake(work, "--cores", "2", configfile=configfile, check=False, timeout=900)
    assert proc.returncode != 0
    logs = "".join(p.read_text() for p in (results / "logs" / "test" / "garbage").glob("*.log"))
    assert "test set 'garbage': no readable video" in logs
