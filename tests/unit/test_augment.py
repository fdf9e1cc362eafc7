"""Augmentations: deterministic from (seed, video_id, copy), shape-preserving, and never leaking across folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fvc.augment import OPERATIONS, AugmentConfig, AugmentPlan, apply_plan, jitter_positions, plan_copy
from fvc.data.clips import extract_shard
from fvc.data.index import build_index
from fvc.data.recipe import ClipRecipe
from fvc.data.sources import discover_folder
from fvc.data.splits import fold_rows, make_folds

CLIP = np.random.default_rng(0).integers(0, 256, (4, 33, 47, 3), dtype=np.uint8)
ALWAYS = AugmentConfig(p_hflip=1, p_crop=1, p_color=1, p_rotate=1, p_blur=1, p_noise=1, p_jpeg=0, p_h264=1)


def test_plan_is_a_function_of_seed_video_and_copy():
    cfg = AugmentConfig()
    a = plan_copy(0, "00ff00ff00ff00ff", 1, cfg)
    assert a == plan_copy(0, "00ff00ff00ff00ff", 1, cfg)
    plans = {plan_copy(s, v, c, cfg).as_dict().__repr__() for s in (0, 1) for v in ("00ff00ff00ff00ff", "00ff00ff00ff00fe") for c in (1, 2)}
    assert len(plans) > 4
    assert plan_copy(0, "00ff00ff00ff00ff", 0, cfg).ops == ()


@pytest.mark.parametrize("op", ["hflip", "crop", "color", "rotate", "blur", "noise", "jpeg", "h264"])
def test_each_operation_changes_pixels_and_keeps_shape(op):
    params = {"hflip": {}, "crop": {"scale": 0.8, "y": 0.3, "x": 0.7}, "color": {"brightness": 0.1, "contrast": 1.1, "saturation": 0.8},
              "rotate": {"degrees": 4.0}, "blur": {"sigma": 1.0}, "noise": {"sigma": 3.0, "seed": 1},
              "jpeg": {"quality": 50}, "h264": {"crf": 30}}[op]  # fmt: skip
    out = apply_plan(CLIP, AugmentPlan(copy=1, ops=((op, params),)))
    assert out.shape == CLIP.shape and out.dtype == np.uint8
    assert not np.array_equal(out, CLIP)
    np.testing.assert_array_equal(out, apply_plan(CLIP, AugmentPlan(copy=1, ops=((op, params),))))


def test_all_operations_are_reachable_from_config():
    drawn = {name for copy in range(1, 40) for name, _ in plan_copy(3, "0123456789abcdef", copy, ALWAYS).ops}
    assert drawn | {"temporal_jitter", "jpeg"} == set(OPERATIONS)


def test_temporal_jitter_is_bounded_ordered_and_deterministic():
    base = np.array([2, 10, 18, 26])
    moved = jitter_positions(base, 30, 0, "0123456789abcdef", 1, 2)
    assert np.all(np.abs(moved - base) <= 2) and np.all(np.diff(moved) >= 0)
    np.testing.assert_array_equal(moved, jitter_positions(base, 30, 0, "0123456789abcdef", 1, 2))
    np.testing.assert_array_equal(jitter_positions(base, 30, 0, "0123456789abcdef", 0, 2), base)


@pytest.fixture
def corpus(tmp_path, make_video):
    for i in range(8):
        make_video(f"data/{'real' if i % 2 else 'fake'}/v{i}.mp4", n=16, seed=i)
    return build_index(*discover_folder(tmp_path / "data")).videos


def test_same_config_and_seed_give_identical_augmented_arrays(corpus, tmp_path):
    recipe = ClipRecipe("aug", frames=4, size=32, scaling="fixed", copies=2)
    first = extract_shard(corpus, 0, 1, recipe, tmp_path / "run1", seed=5, augment=ALWAYS)
    second = extract_shard(corpus, 0, 1, recipe, tmp_path / "run2", seed=5, augment=ALWAYS)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 3 * len(corpus)
    for name in first["array"]:
        assert (tmp_path / "run1" / name).read_bytes() == (tmp_path / "run2" / name).read_bytes()
    other = extract_shard(corpus, 0, 1, recipe, tmp_path / "run3", seed=6, augment=ALWAYS)
    augmented = first[first["copy"] > 0]["array"]
    assert any((tmp_path / "run1" / n).read_bytes() != (tmp_path / "run3" / n).read_bytes() for n in augmented)
    assert set(other["augment"][other["copy"] == 0]) == {"[]"}


def test_no_source_video_in_both_train_and_validation_of_any_fold(corpus, tmp_path):
    recipe = ClipRecipe("aug", frames=3, size=16, scaling="fixed", copies=2)
    manifest = extract_shard(corpus, 0, 1, recipe, tmp_path / "clips", seed=0, augment=ALWAYS)
    corpus = corpus.assign(group=[f"g{i // 2}" for i in range(len(corpus))])
    folds = make_folds(corpus, 2, seed=0)
    for fold in (0, 1):
        train, val = fold_rows(manifest, folds, fold)
        assert set(train["video_id"]).isdisjoint(val["video_id"])
        assert (val["copy"] == 0).all() and (train["copy"] > 0).any()
        val_groups = set(folds.set_index("video_id").loc[list(val["video_id"]), "group"])
        train_groups = set(folds.set_index("video_id").loc[list(train["video_id"]), "group"])
        assert val_groups.isdisjoint(train_groups)
