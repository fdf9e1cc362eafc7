"""The whole workflow on a sample sheet of broken and strange inputs (fvc.data.badcorpus): it must finish,
reject each bad entry exactly once with its reason, and index and featurise every usable file.

The bad corpus holds only a dozen usable files, so a few extra good videos (each its own group) are added to
the sheet; the workflow's own group k-fold and classifiers then have both classes in every fold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fvc.data.badcorpus import write_bad_corpus
from fvc.data.sources import video_id
from fvc.io.encode import write_video
from tests.conftest import REPO, moving_frames
from tests.workflow.runner import job_counts, run_snakemake

pytestmark = pytest.mark.slow

BAD_INPUTS = REPO / "tests" / "configs" / "reliability" / "bad_inputs.yaml"
EXTRA = {"real": 4, "fake": 2}  # extra good videos per label, on top of the corpus's usable files


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("badcorpus")
    sheet, cases = write_bad_corpus(root)
    rows = []
    for label, count in EXTRA.items():
        for i in range(count):
            rel = f"extra/{label}_{i}.mp4"
            write_video(root / "data" / rel, moving_frames(12, 64, 96, seed=100 + 10 * i + (label == "fake")), fps=8)
            rows.append({"path": rel, "label": label, "group": f"extra_{label}_{i}"})
    table = pd.concat([pd.read_csv(sheet, dtype=str, keep_default_na=False), pd.DataFrame(rows)], ignore_index=True)
    table.to_csv(sheet, index=False)

    config = yaml.safe_load(BAD_INPUTS.read_text())
    config["input"]["path"] = str(sheet)
    configfile = root / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    workdir = root / "run"
    workdir.mkdir()
    proc = run_snakemake(workdir, "--cores", "2", configfile=configfile, check=False)
    return workdir, cases, [r["path"] for r in rows], proc


def test_workflow_finishes_on_bad_inputs(bad_run):
    workdir, _, _, proc = bad_run
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert (workdir / "results" / "compare" / "summary.csv").exists()
    again = run_snakemake(workdir, "-n", configfile=workdir.parent / "config.yaml")
    assert job_counts(again.stdout + again.stderr) == {}


def test_every_bad_entry_is_rejected_once_with_a_reason(bad_run):
    workdir, cases, _, proc = bad_run
    assert proc.returncode == 0
    rejected = pd.read_csv(workdir / "results" / "rejected.csv", keep_default_na=False)
    bad = [c for c in cases if c.expected == "rejected"]
    assert len({c.kind for c in bad}) >= 10
    problems = []
    for case in bad:
        rows = rejected[rejected["path"].str.endswith(case.path)]
        index_rows = rows[rows["stage"] == "index"]
        if len(index_rows) != 1:
            problems.append(f"{case.kind} ({case.path}): {len(index_rows)} index rejections, all rows {rows.to_dict('records')}")
        elif not str(index_rows["reason"].iloc[0]).strip():
            problems.append(f"{case.kind} ({case.path}): empty reason")
    assert not problems, "\n".join(problems)


def test_every_usable_file_is_indexed_and_has_features(bad_run):
    workdir, cases, extra, proc = bad_run
    assert proc.returncode == 0
    results = workdir / "results"
    videos = pd.read_parquet(results / "index" / "videos.parquet")
    features = pd.read_parquet(results / "features" / "forensic.parquet")
    rejected = pd.read_csv(results / "rejected.csv", keep_default_na=False)
    usable = [c.path for c in cases if c.expected == "ok"] + extra
    assert len(usable) >= 12
    problems = []
    for path in usable:
        if path not in set(videos["path"]):
            problems.append(f"{path}: not indexed ({rejected[rejected['path'] == path]['reason'].tolist()})")
            continue
        vid = video_id(path)
        assert videos.set_index("path").loc[path, "video_id"] == vid
        row = features[(features["video_id"] == vid) & (features["copy"] == 0)]
        if len(row) != 1:
            problems.append(f"{path}: {len(row)} feature rows")
        elif not np.isfinite(row["noise_std_mean"].to_numpy(dtype=float)).all():
            problems.append(f"{path}: no pixel features")
        later = rejected[(rejected["path"] == path) & (rejected["stage"] != "index")]
        if len(later):
            problems.append(f"{path}: rejected later: {later.to_dict('records')}")
    assert not problems, "\n".join(problems)
    # Every indexed video is a usable one: nothing bad slipped through the index.
    assert set(videos["path"]) == set(usable)


def test_every_fold_predicts_every_indexed_video(bad_run):
    workdir, _, _, proc = bad_run
    assert proc.returncode == 0
    results = workdir / "results"
    folds = pd.read_parquet(results / "splits" / "folds.parquet")
    for fold_dir in sorted((results / "models").glob("*/fold_*")):
        predictions = pd.read_parquet(fold_dir / "predictions.parquet")
        fold = int(fold_dir.name.removeprefix("fold_"))
        assert set(predictions["video_id"]) == set(folds.loc[folds["fold"] == fold, "video_id"]), fold_dir
        assert predictions["score"].between(0, 1).all(), fold_dir
    summary = pd.read_csv(results / "compare" / "summary.csv")
    assert sorted(summary["model"]) == ["hist_gradient_boosting", "logistic_regression", "random_forest", "svm"]
