"""The first test of any training setup: every registered model memorises a small fixed batch of real clips.

8 clips (4 scenes: 4 real, 4 fake of four manipulation families) of the embedded synthetic corpus, decoded with each
model's default clip recipe from ``config/config.yaml``, are one batch, trained through ``fvc.train.engine`` for 100
steps (an epoch of one step each) with the model's own settings (``fvc.learners.torch_fit.train_config``: learning rate,
precise BN; no dropout or weight decay) and only the schedule shortened. The loss is then measured as the model is
used, in eval mode: a model that cannot bring it below 0.05 and classify every clip has a bug (initialisation,
normalisation, label order, learning rate, frozen parameters, a loss on the wrong logit, BatchNorm statistics that
differ between training and inference); a scikit-learn model must fit its training features.

The batch is the same 8 clips at every step. An earlier version drew batches of 8 from the clips repeated 10 times,
so a step could see a fake without its real twin: which models passed then depended on the draw (one reshuffle of
the same draws turned vit_gru, vit_transformer and both deep_v1 variants from pass to fail, the flicker pair near
P(fake) 0.5), a test of the sampler's luck rather than of the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from fvc.augment import AugmentConfig
from fvc.data.clips import extract_shard
from fvc.data.index import build_index
from fvc.data.recipe import ClipRecipe
from fvc.data.sources import load_samples
from fvc.data.synth import SynthConfig, generate_corpus
from fvc.features.extract import feature_columns, merge_feature_shards, shard_features
from fvc.models import create, get_spec, list_models
from fvc.models.registry import model_kwargs, resolve_params
from fvc.train.data import ClipDataset, clip_rows
from fvc.train.engine import predict, train
from fvc.learners.sklearn_fit import fit_estimator
from fvc.learners.torch_fit import input_layout, train_config

REPO = Path(__file__).resolve().parents[2]
DEFAULTS = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
TORCH_MODELS = [name for name in list_models() if get_spec(name).kind == "torch"]
# Models whose registered choices name different networks are checked in each (the parameter that chooses).
VARIANT_PARAMS = {"deep_v1": "variant", "deep_v2": "architecture", "naive_cnn": "global_pool"}
# Choices that size one network (more of the same blocks) rather than name another: the default size is checked.
SIZE_PARAMS = {"r3d": "depth", "r2plus1d": "depth"}
SKLEARN_MODELS = [name for name in list_models() if get_spec(name).kind == "sklearn"]

N_VIDEOS = 16  # the corpus: 8 scenes, a real and a fake video each, every manipulation family
N_CLIPS = 8  # the torch models' one batch: 4 scenes
MAX_STEPS = 100  # epochs of one step: the batch is the whole training set
TARGET_LOSS = 0.05


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("learning")
    # The default corpus's settings, fewer scenes: 8 real and 8 fake videos, every family present.
    synth = {k: v for k, v in DEFAULTS["synth"].items() if k in ("frames", "fps", "crf", "crf_spread")}
    generate_corpus(root / "corpus", SynthConfig(scenes=N_VIDEOS // 2, stills=0, seed=DEFAULTS["seed"], **synth), progress=False, workers=2)
    samples, rejections = load_samples("synth", root / "corpus")
    videos = build_index(samples, rejections).videos
    assert len(videos) == N_VIDEOS and (videos["label"] == "fake").sum() == N_VIDEOS // 2
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
    assert len(rows) == N_VIDEOS and rows["label"].sum() == N_VIDEOS // 2
    return rows


# Known failures, kept strict so a fix shows up as XPASS (docs/training.md, "Open problems").
KNOWN_FAILURES: dict[str, str] = {}


def _memorise_cases() -> list:
    cases = []
    for name in TORCH_MODELS:
        key = VARIANT_PARAMS.get(name)
        for variant in get_spec(name).choices[key] if key else (None,):
            overrides, case_id = ({key: variant}, f"{name}-{variant}") if key else ({}, name)
            marks = [pytest.mark.xfail(reason=KNOWN_FAILURES[case_id], strict=True)] if case_id in KNOWN_FAILURES else []
            cases.append(pytest.param(name, overrides, id=case_id, marks=marks))
    return cases


def test_every_variant_is_checked() -> None:
    """A model with named networks (registry choices) is in VARIANT_PARAMS, so each of them is memorised."""
    sized = {name for name, key in SIZE_PARAMS.items() if set(get_spec(name).choices) == {key}}
    assert {name for name in TORCH_MODELS if get_spec(name).choices} - sized <= set(VARIANT_PARAMS)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "overrides"), _memorise_cases())
def test_torch_model_memorises_a_fixed_batch(name: str, overrides: dict, corpus, tmp_path: Path) -> None:
    spec = get_spec(name)
    params = resolve_params(name, {**((DEFAULTS.get("model_params") or {}).get(name) or {}), **overrides})
    clipset = params["clipset"]
    root, videos = corpus
    first_scenes = videos.groupby("group").ngroup() < N_CLIPS // 2
    rows = clips_of(corpus, clipset)
    rows = rows[rows["video_id"].isin(videos.loc[first_scenes, "video_id"])]
    assert len(rows) == N_CLIPS and rows["label"].sum() == N_CLIPS // 2
    stats = {"mean": spec.default_cfg.get("mean", (0.5,) * 3), "std": spec.default_cfg.get("std", (0.5,) * 3), "layout": input_layout(name)}
    dataset = ClipDataset(rows, **stats)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    # Regularisation off: what is checked is that model and engine can fit, not how much dropout costs (the
    # 100k-parameter naive_cnn plateaus at loss 0.18 with its default dropout 0.3, and reaches 0.02 without).
    # Every dropout (deep_v1's block_dropout too) is off.
    kwargs = model_kwargs(name, {**params, **{k: 0.0 for k in params if k.endswith("dropout")}}, DEFAULTS["clipsets"][clipset])
    model = create(name, **kwargs)
    cfg = train_config(params, epochs=MAX_STEPS, batch_size=N_CLIPS, accumulate=1, warmup_epochs=0, patience=MAX_STEPS, min_epochs=MAX_STEPS,
                       precise_bn_batches=1, weight_decay=0.0, seed=0)  # fmt: skip
    result = train(model, dataset, dataset, cfg, checkpoint=tmp_path / "last.pt", progress=False)

    train_losses = result.history["train_loss"].to_numpy()
    assert len(train_losses) == MAX_STEPS and train_losses[-1] < 0.5 * train_losses[0]
    # The loss as the model is used: inference mode (BatchNorm statistics, no dropout), unweighted.
    probs, loss = predict(model, dataset, batch_size=N_CLIPS, criterion=torch.nn.CrossEntropyLoss())
    curve = np.round(train_losses[9::10], 3).tolist()
    family = rows["video_id"].map(videos.set_index("video_id")["family"]).fillna("real")
    per_clip = [f"{f}: {p:.2f}" for f, p in zip(family, probs, strict=True)]
    label = f"{name} {overrides}" if overrides else name
    assert loss < TARGET_LOSS, f"{label}: eval-mode loss {loss:.3f} after {MAX_STEPS} steps (training loss every 10 steps {curve}; P(fake) {per_clip})"
    assert ((probs >= 0.5) == dataset.labels.astype(bool)).all(), f"{label}: eval-mode P(fake) {np.round(probs, 2).tolist()}"


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
