"""Stratified group k-fold: groups never straddle folds, class ratios stay close, seeds reproduce."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fvc.data.splits import make_folds, train_val_ids


def corpus(n_groups: int = 60, seed: int = 0) -> pd.DataFrame:
    """FaceForensics-like: each source group has one real video and 1-4 fakes made from it, plus loose reals."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        rows.append({"video_id": f"{g:04d}r", "group": f"g{g}", "label": "real"})
        rows += [{"video_id": f"{g:04d}f{j}", "group": f"g{g}", "label": "fake"} for j in range(rng.integers(1, 5))]
    rows += [{"video_id": f"solo{i:03d}", "group": f"solo{i}", "label": "real"} for i in range(40)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("n_folds", [3, 5])
def test_no_group_in_two_folds_and_class_ratio_within_10_percent(n_folds):
    videos = corpus()
    folds = make_folds(videos, n_folds, seed=0)
    assert len(folds) == len(videos) and set(folds["video_id"]) == set(videos["video_id"])
    assert folds.groupby("group")["fold"].nunique().max() == 1
    overall = (videos["label"] == "fake").mean()
    per_fold = folds.groupby("fold")["label"].apply(lambda s: (s == "fake").mean())
    assert sorted(per_fold.index) == list(range(n_folds))
    assert (per_fold - overall).abs().max() <= 0.10


def test_same_seed_same_folds_regardless_of_row_order():
    videos = corpus()
    a = make_folds(videos, 5, seed=3)
    b = make_folds(videos.sample(frac=1.0, random_state=99), 5, seed=3)
    pd.testing.assert_frame_equal(a, b)
    c = make_folds(videos, 5, seed=4)
    assert not a["fold"].equals(c["fold"])


def test_train_val_partition():
    folds = make_folds(corpus(), 3, seed=0)
    train, val = train_val_ids(folds, 1)
    assert set(train).isdisjoint(val) and len(train) + len(val) == len(folds)
    with pytest.raises(ValueError, match="fold 7"):
        train_val_ids(folds, 7)


def test_too_few_groups_or_one_class_is_a_clear_error():
    tiny = pd.DataFrame({"video_id": ["a", "b"], "group": ["g", "g"], "label": ["real", "fake"]})
    with pytest.raises(ValueError, match="from 1 group"):
        make_folds(tiny, 2, seed=0)
    only_real = pd.DataFrame({"video_id": list("abcd"), "group": list("abcd"), "label": ["real"] * 4})
    with pytest.raises(ValueError, match="no 'fake' videos"):
        make_folds(only_real, 2, seed=0)


def test_inner_validation_is_grouped_and_inside_training():
    from fvc.data.splits import inner_validation

    videos = corpus()
    folds = make_folds(videos, 5, seed=0)
    fit, stop = inner_validation(folds, 2, 0.2, seed=0)
    train, val = train_val_ids(folds, 2)
    assert set(fit) | set(stop) == set(train) and set(fit).isdisjoint(stop) and set(stop).isdisjoint(val)
    groups = folds.set_index("video_id")["group"]
    assert set(groups[list(fit)]).isdisjoint(groups[list(stop)])
    assert 0.1 < len(stop) / len(train) < 0.3
    again = inner_validation(folds, 2, 0.2, seed=0)
    assert fit.equals(again[0]) and stop.equals(again[1])


FAMILIES = ["double_compression", "flicker", "splice"]


def family_corpus(multi: bool) -> pd.DataFrame:
    """multi=False: the embedded corpus's shape (a scene = a real + a fake of one family); multi=True: FF++'s
    (a source = a real + a fake of every family), plus loose real videos."""
    rows = []
    for g in range(24):
        rows.append({"video_id": f"{g:03d}r", "group": f"g{g}", "label": "real", "family": "none"})
        for family in FAMILIES if multi else [FAMILIES[g % 3]]:
            rows.append({"video_id": f"{g:03d}{family}", "group": f"g{g}", "label": "fake", "family": family})
    rows += [{"video_id": f"solo{i}", "group": f"solo{i}", "label": "real", "family": "none"} for i in range(5)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("multi", [False, True], ids=["one-family-groups", "all-family-groups"])
def test_leave_one_family_out_never_trains_on_the_held_out_family(multi):
    from fvc.data.splits import fold_balance, fold_roles, heldout_family, make_family_folds

    videos = family_corpus(multi)
    folds = make_family_folds(videos, FAMILIES, seed=0)
    assert sorted(folds["fold"].unique()) == [0, 1, 2]
    assert folds.groupby("group")["fold"].nunique().max() == 1  # no group straddles
    for k, family in enumerate(FAMILIES):
        roles = fold_roles(folds, k)
        train, val = folds[roles == "train"], folds[roles == "val"]
        assert heldout_family(folds, k) == family
        assert not (train["family"] == family).any(), "the held-out family is never trained on"
        assert set(val.loc[val["label"] == "fake", "family"]) == {family}, "validation fakes are the held-out family's only"
        assert not set(train["group"]) & set(val["group"]), "groups never straddle the two parts"
        assert {"real", "fake"} <= set(train["label"]) and {"real", "fake"} <= set(val["label"])
        balance = fold_balance(folds, k)
        assert balance["val_fake"] == int(((roles == "val") & (folds["label"] == "fake")).sum()) > 0
        if not multi:  # one family per group: all of the family's fakes are validated, nothing is left out
            assert balance["val_fake"] == 8 and balance["unused"] == 0
    pd.testing.assert_frame_equal(folds, make_family_folds(videos.sample(frac=1.0, random_state=1), FAMILIES, seed=0))


def test_group_kfold_roles_are_the_plain_complement():
    from fvc.data.splits import fold_roles

    folds = make_folds(corpus(), 3, seed=0)
    for k in range(3):
        roles = fold_roles(folds, k)
        assert (roles == "val").equals(folds["fold"] == k) and (roles == "train").equals(folds["fold"] != k)


def test_leave_one_family_out_fails_clearly_without_families(tmp_path):
    from fvc.data.splits import heldout_families, make_family_folds

    videos = family_corpus(False)
    with pytest.raises(ValueError, match="no fake videos of upsample are left"):
        make_family_folds(videos, [*FAMILIES, "upsample"], seed=0)
    with pytest.raises(ValueError, match="not a real/fake folder"):
        heldout_families({"input": {"kind": "folder", "path": str(tmp_path)}})
    sheet = tmp_path / "s.csv"
    sheet.write_text("path,label,family\na.mp4,real,\nb.mp4,fake,flicker\nc.mp4,fake,\n")
    with pytest.raises(ValueError, match="1 fake row"):
        heldout_families({"input": {"kind": "sheet", "path": str(sheet)}})
    sheet.write_text("path,label,family\na.mp4,real,\nb.mp4,fake,flicker\nc.mp4,fake,splice\n")
    assert heldout_families({"input": {"kind": "sheet", "path": str(sheet)}}) == ["flicker", "splice"]
    assert heldout_families({"input": {"kind": "synth"}, "synth": {"families": ["upsample", "flicker"]}}) == ["flicker", "upsample"]
