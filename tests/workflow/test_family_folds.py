"""`split.strategy: leave_one_family_out` in a real Snakemake run: one fold per manipulation family, every model
trains and is compared on folds whose validation fakes are of a family it never trained on."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tests.workflow.runner import TINY, run_snakemake

pytestmark = pytest.mark.slow

FAMILIES = ["flicker", "splice", "upsample"]


def test_one_fold_per_family_and_every_model_compared(tmp_path):
    config = yaml.safe_load(TINY.read_text())
    config["synth"] = {**config["synth"], "scenes": 9, "families": FAMILIES, "stills": 0}
    config["split"] = {"folds": 2, "strategy": "leave_one_family_out"}  # folds: ignored, one per family
    config["models"] = ["random_forest", "naive_cnn"]
    config["model_params"] = {"naive_cnn": {"epochs": 2, "batch_size": 4}}
    configfile = tmp_path / "lofo.yaml"
    configfile.write_text(yaml.safe_dump(config))
    work = tmp_path / "run"
    run_snakemake(work, "--cores", "2", configfile=configfile, timeout=900)
    results = work / "results"

    folds = pd.read_parquet(results / "splits" / "folds.parquet")
    assert sorted(folds["fold"].unique()) == [0, 1, 2]
    assert folds.groupby("group")["fold"].nunique().max() == 1, "a group straddles folds"
    balance = pd.read_csv(results / "splits" / "fold_balance.csv")
    assert balance["heldout_family"].tolist() == FAMILIES
    assert (balance[["train_real", "train_fake", "val_real", "val_fake"]] > 0).all().all()
    for model in config["models"]:
        for k, family in enumerate(FAMILIES):
            metrics = json.loads((results / "models" / model / f"fold_{k}" / "metrics.json").read_text())
            assert metrics["heldout_family"] == family
            predictions = pd.read_parquet(results / "models" / model / f"fold_{k}" / "predictions.parquet")
            fakes = set(predictions.loc[predictions["label"] == 1, "video_id"])
            assert fakes and set(folds.loc[folds["video_id"].isin(fakes), "family"]) == {family}
    summary = pd.read_csv(results / "compare" / "summary.csv")
    assert set(summary["model"]) == set(config["models"]) and (summary["folds"] == 3).all()
