"""The first test of any training setup: every registered model memorises a small fixed batch of real clips.

16 clips (8 real, 8 fake) of the embedded synthetic corpus, decoded with each model's default clip recipe
from ``config/config.yaml``, trained through ``fvc.train.engine`` with the model's own defaults (learning
rate, weight decay, dropout) and only the schedule shortened. A model that cannot drive the training loss of
16 clips below 0.05 has a bug (initialisation, normalisation, label order, learning rate, frozen
parameters, a loss on the wrong logit); a scikit-learn model must fit its training features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from fvc.augment import AugmentConfig
from fvc.config import ClipRecipe
from fvc.data.clips import extract_shard
from fvc.data.index import build_index
from fvc.data.sources import load_samples
from fvc.data.synth import SynthConfig, generate_corpus
from fvc.features.extract import feature_columns, merge_feature_shards, shard_features
from fvc.models import create, get_spec, list_models
from fvc.models.registry import model_kwargs, resolve_params
from fvc.train.data import ClipDataset, clip_rows
from fvc.train.engine import TrainConfig, predict, train
from fvc.train.sklearn_fit import fit_estimator
from fvc.train.torch_fit import input_layout

REPO = Path(__file__).resolve().parents[2]
DEFAULTS = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
TORCH_MODELS = [name for name in list_models() if get_spec(name).kind == "torch"]
SKLEARN_MODELS = [name for name in list_models() if get_spec(name).kind == "sklearn"]

N_CLIPS = 16
BATCH = 8
MAX_STEPS = 40  # 20 epochs of 2 steps
TARGET_LOSS = 0.05


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("learning")
    # The default corpus's settings, fewer scenes: 8 real and 8 fake videos, every family present.
    synth = {k: v for k, v in DEFAULTS["synth"].items() if k in ("frames", "fps", "crf", "crf_spread")}
    generate_corpus(root / "corpus", SynthConfig(scenes=N_CLIPS // 2, stills=0, seed=DEFAULTS["seed"], **synth), progress=False, workers=2)
    samples, rejections = load_samples("synth", root / "corpus")
    videos = build_index(samples, rejections).videos
    assert len(videos) == N_CLIPS and (videos["label"] == "fake").sum() == N_CLIPS // 2
    return root, videos


def clips_of(corpus: tuple[Path, pd.DataFrame], clipset: str) -> pd.DataFrame:
    """The corpus decoded with a default clipset (cached per clipset for the module)."""
    root, videos = corpus
    shard_dir = root / "clips" / clipset
    if not (shard_dir / "manifest.parquet").exists():
        recipe = ClipRecipe(name=clipset, **DEFAULTS["clipsets"][clipset])
        extract_shard(videos, 0, 1, recipe, shard_dir, seed=DEFAULTS["seed"], augment=AugmentConfig())
    labels = videos.set_index("video_id")["label"].eq("fake").astype(np.int64)
    rows = clip_rows([shard_dir / "manifest.parquet"], labels)
    rows = rows[rows["copy"] == 0]
    assert len(rows) == N_CLIPS and rows["label"].sum() == N_CLIPS // 2
    return rows


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_torch_model_memorises_sixteen_clips(name: str, corpus, tmp_path: Path) -> None:
    spec = get_spec(name)
    params = resolve_params(name, (DEFAULTS.get("model_params") or {}).get(name))
    clipset = params["clipset"]
    rows = clips_of(corpus, clipset)
    dataset = ClipDataset(rows, mean=spec.default_cfg.get("mean", (0.5,) * 3), std=spec.default_cfg.get("std", (0.5,) * 3),
                          layout=input_layout(name))  # fmt: skip
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = create(name, **model_kwargs(name, params, DEFAULTS["clipsets"][clipset]))
    # The model's own optimiser settings; only the schedule is shortened to a fixed number of steps.
    cfg = TrainConfig.from_params(params, epochs=MAX_STEPS * BATCH // N_CLIPS, batch_size=BATCH, accumulate=1, warmup_epochs=0,
                                  patience=MAX_STEPS, min_epochs=MAX_STEPS, seed=0)  # fmt: skip
    result = train(model, dataset, dataset, cfg, checkpoint=tmp_path / "last.pt", progress=False)

    history = result.history
    assert len(history) * N_CLIPS // BATCH <= MAX_STEPS
    train_losses = history["train_loss"].to_numpy()
    assert train_losses[-1] < TARGET_LOSS, f"{name}: training loss {np.round(train_losses, 3).tolist()} did not fall below {TARGET_LOSS}"
    assert train_losses[-1] < 0.5 * train_losses[0]
    # Inference mode (BatchNorm running statistics, no dropout) gets every clip right too.
    probs, _ = predict(model, dataset, batch_size=BATCH)
    assert ((probs >= 0.5) == dataset.labels.astype(bool)).all(), f"{name}: eval-mode P(fake) {np.round(probs, 2).tolist()}"


@pytest.mark.parametrize("name", SKLEARN_MODELS)
def test_sklearn_model_fits_its_training_features(name: str, corpus) -> None:
    from sklearn.metrics import roc_auc_score

    root, videos = corpus
    params = resolve_params(name, (DEFAULTS.get("model_params") or {}).get(name))
    clips_of(corpus, params["clipset"])
    features = merge_feature_shards([_features(root, params["clipset"])], videos)
    by_id = videos.set_index("video_id")
    labels = features["video_id"].map(by_id["label"].eq("fake")).to_numpy(np.int64)
    x = features[feature_columns(features)].to_numpy(np.float64)
    model = fit_estimator(create(name, seed=0, **params), x, labels, groups=features["video_id"].map(by_id["group"]).to_numpy())
    scores = model.predict_proba(x)[:, list(model.classes_).index(1)]
    assert roc_auc_score(labels, scores) >= 0.95, f"{name} does not fit its own training features"


def _features(root: Path, clipset: str) -> Path:
    target = root / "features" / f"{clipset}.parquet"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shard_features(root / "clips" / clipset / "manifest.parquet").to_parquet(target)
    return target
