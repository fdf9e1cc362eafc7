"""Tests for the synthetic corpus generator (fvc.data.synth)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fvc.data.synth import (
    FAMILY_NAMES,
    HELDOUT_FAMILY_NAMES,
    KNOWN_FAMILIES,
    SAMPLE_COLUMNS,
    SynthConfig,
    generate_corpus,
    manipulate,
    render_scene,
    scene_crf,
)

# Small but not degenerate: every family appears, two frame sizes, one still scene per family-ish.
SMALL = SynthConfig(scenes=5, frames=6, sizes=((64, 48), (48, 64)), stills=2, seed=3)


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("corpus")
    return root, generate_corpus(root, SMALL, progress=False)


def test_family_names_cover_required_families() -> None:
    assert {"splice", "upsample", "double_compression", "flicker", "interpolation"} <= set(FAMILY_NAMES)
    assert SynthConfig().families == FAMILY_NAMES
    # The shipped test set's unseen manipulation is never in a default training corpus, but can be asked for.
    assert HELDOUT_FAMILY_NAMES == ("regrain",) and not set(HELDOUT_FAMILY_NAMES) & set(SynthConfig().families)
    assert SynthConfig(families=["regrain", "splice"]).families == ("regrain", "splice")


def test_same_seed_gives_identical_bytes(corpus: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, table = corpus
    again = generate_corpus(tmp_path / "again", SMALL, progress=False)
    pd.testing.assert_frame_equal(table, again)
    first, second = _tree_bytes(root), _tree_bytes(tmp_path / "again")
    assert first.keys() == second.keys()
    assert "samples.csv" in first
    for name in first:
        assert first[name] == second[name], name


def test_render_is_deterministic_and_seed_dependent() -> None:
    frames = render_scene(1, SMALL)
    assert frames.shape == (SMALL.frames, 64, 48, 3)  # sizes cycle: scene 1 -> (48, 64) as (width, height)
    assert frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, render_scene(1, SMALL))
    assert not np.array_equal(frames, render_scene(1, dataclasses.replace(SMALL, seed=4)))
    assert not np.array_equal(render_scene(0, SMALL), render_scene(2, SMALL))  # scenes differ too
    # Scenes are independent of the corpus size: scene 1 renders the same in a larger corpus.
    np.testing.assert_array_equal(frames, render_scene(1, dataclasses.replace(SMALL, scenes=9)))


def test_real_frames_move_and_are_noisy() -> None:
    frames = render_scene(0, SMALL).astype(np.float32)
    assert np.abs(np.diff(frames, axis=0)).mean() > 1.0  # camera and objects move
    assert frames.std() > 10.0  # textured, not flat


def test_different_seed_gives_different_corpus(corpus: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, _ = corpus
    other = tmp_path / "other"
    generate_corpus(other, dataclasses.replace(SMALL, seed=SMALL.seed + 1), progress=False)
    real = "real/scene_000.mp4"
    assert not np.array_equal(_decode(root / real), _decode(other / real))


def test_samples_table(corpus: tuple[Path, pd.DataFrame]) -> None:
    root, table = corpus
    on_disk = pd.read_csv(root / "samples.csv")
    pd.testing.assert_frame_equal(table, on_disk)
    assert list(table.columns) == list(SAMPLE_COLUMNS) == ["path", "label", "group", "family"]
    assert set(table["label"]) == {"real", "fake"}
    assert (table.loc[table["label"] == "real", "family"] == "none").all()
    assert set(table.loc[table["label"] == "fake", "family"]) == set(FAMILY_NAMES)
    for path in table["path"]:
        assert "\\" not in path and not Path(path).is_absolute()
        assert (root / path).is_file(), path

    videos = table[table["path"].str.endswith(".mp4")]
    assert len(videos) == 2 * SMALL.scenes
    for scene in range(SMALL.scenes):
        group = f"scene_{scene:03d}"
        family = SMALL.families[scene % len(SMALL.families)]
        rows = videos[videos["group"] == group]
        assert sorted(rows["path"]) == [f"fake/{group}_{family}.mp4", f"real/{group}.mp4"]
        assert sorted(rows["label"]) == ["fake", "real"]
    # Groups carry whole scenes: a group's stills belong to the same scene as its videos.
    for group, rows in table.groupby("group"):
        assert all(Path(p).stem.split("_")[1] == group.split("_")[1] for p in rows["path"])


def test_stills(corpus: tuple[Path, pd.DataFrame]) -> None:
    root, table = corpus
    stills = table[table["path"].str.endswith(".png")]
    assert len(stills) == 2 * SMALL.stills
    assert stills["group"].nunique() == SMALL.stills
    assert sorted(stills["label"]) == ["fake"] * SMALL.stills + ["real"] * SMALL.stills
    from PIL import Image

    for path, group in zip(stills["path"], stills["group"]):
        scene = int(group.split("_")[1])
        width, height = SMALL.sizes[scene % len(SMALL.sizes)]
        with Image.open(root / path) as image:
            assert image.size == (width, height) and image.mode == "RGB"
    # The real still is the lossless middle frame of the rendered scene.
    real = stills[stills["label"] == "real"].iloc[0]
    scene = int(real["group"].split("_")[1])
    with Image.open(root / real["path"]) as image:
        np.testing.assert_array_equal(np.asarray(image), render_scene(scene, SMALL)[SMALL.frames // 2])


def test_no_stills(tmp_path: Path) -> None:
    cfg = dataclasses.replace(SMALL, scenes=1, stills=0, families=("flicker",))
    table = generate_corpus(tmp_path, cfg, progress=False)
    assert list(table["path"]) == ["real/scene_000.mp4", "fake/scene_000_flicker.mp4"]
    assert not list(tmp_path.rglob("*.png"))


def test_videos_decode_to_configured_shape(corpus: tuple[Path, pd.DataFrame]) -> None:
    root, table = corpus
    for path, group in zip(table["path"], table["group"]):
        if not path.endswith(".mp4"):
            continue
        scene = int(group.split("_")[1])
        width, height = SMALL.sizes[scene % len(SMALL.sizes)]
        frames = _decode(root / path)
        assert frames.shape == (SMALL.frames, height, width, 3), path


@pytest.mark.parametrize("family", KNOWN_FAMILIES)
def test_each_family_changes_frames_and_keeps_shape(family: str) -> None:
    frames = render_scene(0, SMALL)
    before = frames.copy()
    donor = render_scene(1, SMALL) if family == "splice" else None  # a different size: must be fitted
    fake = manipulate(frames, family, np.random.default_rng(7), donor)
    assert fake.shape == frames.shape and fake.dtype == np.uint8
    assert not np.array_equal(fake, frames)
    np.testing.assert_array_equal(frames, before)  # input not modified in place
    again = manipulate(frames, family, np.random.default_rng(7), donor)
    np.testing.assert_array_equal(fake, again)


def test_splice_without_donor_and_two_frame_clips() -> None:
    frames = render_scene(0, dataclasses.replace(SMALL, frames=2))
    for family in FAMILY_NAMES:
        fake = manipulate(frames, family, np.random.default_rng(0))
        assert fake.shape == frames.shape and not np.array_equal(fake, frames), family


def test_unknown_family_raises() -> None:
    frames = render_scene(0, SMALL)
    with pytest.raises(ValueError, match="deepfake") as info:
        manipulate(frames, "deepfake", np.random.default_rng(0))
    for name in FAMILY_NAMES:
        assert name in str(info.value)


def test_manipulate_rejects_bad_frames() -> None:
    with pytest.raises(ValueError, match="frames"):
        manipulate(np.zeros((2, 8, 8), dtype=np.uint8), "flicker", np.random.default_rng(0))
    with pytest.raises(ValueError, match="frames"):
        manipulate(np.zeros((2, 8, 8, 3), dtype=np.float32), "flicker", np.random.default_rng(0))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("scenes", 0),
        ("frames", 1),
        ("fps", 0),
        ("crf", 52),
        ("stills", -1),
        ("stills", 10_000),
        ("seed", -1),
        ("sizes", ((65, 48),)),
        ("sizes", ((64, 47),)),
        ("sizes", ()),
        ("families", ("splice", "morph")),
        ("families", ()),
        ("scenes", 2.5),
        ("images_only", "yes"),
    ],
)
def test_invalid_config_names_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        SynthConfig(**{field: value})


def test_images_only_writes_every_still_pair_and_no_video(tmp_path: Path) -> None:
    """An image corpus: each scene's real and fake still, no video; each fake differs from its real twin."""
    cfg = SynthConfig(scenes=3, frames=3, stills=0, families=("splice", "upsample", "double_compression"), seed=5, images_only=True)
    table = generate_corpus(tmp_path, cfg, progress=False)
    assert len(table) == 6 and table["path"].str.endswith(".png").all() and not list(tmp_path.rglob("*.mp4"))
    assert table.groupby("group")["label"].apply(sorted).tolist() == [["fake", "real"]] * 3
    for _, pair in table.groupby("group"):
        real, fake = (np.asarray(Image.open(tmp_path / p), dtype=np.float64) for p in pair.sort_values("label", ascending=False)["path"])
        assert real.shape == fake.shape and np.abs(real - fake).mean() > 1.0
    with_videos = generate_corpus(tmp_path / "both", dataclasses.replace(cfg, images_only=False), progress=False)
    assert with_videos["path"].str.endswith(".mp4").sum() == 6 and len(with_videos) == 6  # stills: 0 -> videos only


def test_config_accepts_yaml_lists() -> None:
    cfg = SynthConfig(sizes=[[64, 48]], families=["flicker", "splice"])
    assert cfg.sizes == ((64, 48),) and cfg.families == ("flicker", "splice")
    assert cfg == SynthConfig(sizes=((64, 48),), families=("flicker", "splice"))
    hash(cfg)


def test_worker_processes_write_the_same_bytes(corpus: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, _ = corpus
    generate_corpus(tmp_path / "parallel", SMALL, progress=False, workers=3)
    assert _tree_bytes(tmp_path / "parallel") == _tree_bytes(root)


def test_crf_is_drawn_per_scene_within_the_spread() -> None:
    cfg = SynthConfig(scenes=40, crf=20, crf_spread=3, seed=0)
    crfs = [scene_crf(scene, cfg) for scene in range(cfg.scenes)]
    assert min(crfs) >= 17 and max(crfs) <= 23 and len(set(crfs)) >= 5
    assert crfs == [scene_crf(scene, cfg) for scene in range(cfg.scenes)]  # a function of (seed, scene)
    assert {scene_crf(scene, SynthConfig(crf=25, crf_spread=0)) for scene in range(10)} == {25}
    with pytest.raises(ValueError, match="crf_spread"):
        SynthConfig(crf=50, crf_spread=3)


def test_real_and_fake_of_a_scene_share_their_container_facts(corpus: tuple[Path, pd.DataFrame]) -> None:
    """Same size, length and frame rate: only the pixels tell them apart (see test_corpus_shortcuts)."""
    root, table = corpus
    for group, rows in table[table["path"].str.endswith(".mp4")].groupby("group"):
        shapes = {_decode(root / path).shape for path in rows["path"]}
        assert len(shapes) == 1, group


def test_fvc_synth_images_only_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fvc.cli import main

    assert main(["synth", str(tmp_path), "--scenes", "2", "--frames", "3", "--stills", "0", "--images-only", "--quiet"]) == 0
    assert "wrote 4 files" in capsys.readouterr().out
    assert sorted(p.suffix for p in tmp_path.rglob("*.*") if p.name != "samples.csv") == [".png"] * 4
