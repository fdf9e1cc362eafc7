"""Every broken or strange input is either decoded correctly or rejected with a reason; nothing stops."""

from __future__ import annotations

import numpy as np
import pytest

from fvc.data.badcorpus import write_bad_corpus
from fvc.data.clips import extract_shard
from fvc.data.index import build_index
from fvc.data.recipe import ClipRecipe
from fvc.data.sources import read_sheet
from fvc.io.video import decode_all, read_frames


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    sheet, cases = write_bad_corpus(root)
    result = build_index(*read_sheet(sheet))
    return root, cases, result


@pytest.fixture(scope="module")
def manifests(bad, tmp_path_factory):
    _, _, result = bad
    out = tmp_path_factory.mktemp("clips")
    return {
        scaling: extract_shard(result.videos, 0, 1, ClipRecipe("c", frames=4, size=32, scaling=scaling, copies=1), out / scaling)
        for scaling in ("crop", "fixed", "letterbox")
    }


def test_at_least_15_kinds(bad):
    _, cases, _ = bad
    assert len({c.kind for c in cases} - {"good"}) >= 15


KINDS = [
    "zero_byte", "truncated_moov_at_end", "truncated_mid_stream", "random_bytes", "text_file", "audio_only",
    "lying_frame_count", "one_frame", "huge_frame", "odd_size", "rotated", "variable_fps", "unicode_space_name",
    "still_png", "still_jpeg", "directory_named_mp4", "symlink_out_of_root", "missing_file", "path_outside_root",
    "unknown_label", "duplicate_path",
]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_case_is_decoded_or_rejected_with_reason(bad, manifests, kind):
    _, cases, result = bad
    (case,) = [c for c in cases if c.kind == kind]
    rejected = result.rejected[result.rejected["path"].str.endswith(case.path.split("/")[-1])]
    if case.expected == "ok":
        assert case.path in set(result.videos["path"]), f"expected decodable, got {rejected['reason'].tolist()}"
        video_id = result.videos.set_index("path").loc[case.path, "video_id"]
        for scaling, manifest in manifests.items():
            rows = manifest[manifest["video_id"] == video_id]
            assert len(rows) == 2 and (rows["status"] == "ok").all(), (scaling, rows["reason"].tolist())
    else:
        assert len(rejected) >= 1 and rejected["reason"].str.len().min() > 0


def test_every_shard_finishes_with_all_indexed_videos(bad, manifests):
    _, cases, result = bad
    assert {c.kind for c in cases} - {"good"} == set(KINDS)
    for manifest in manifests.values():
        assert (manifest["status"] == "ok").all()
        assert set(manifest["video_id"]) == set(result.videos["video_id"])


def test_rejections_name_the_reason(bad):
    _, _, result = bad
    reasons = dict(zip(result.rejected["path"], result.rejected["reason"]))
    assert "empty file" in reasons["media/zero.mp4"]
    assert "no video stream (streams: audio)" in reasons["media/audio_only.mp4"]
    assert "unreadable media" in reasons["media/notes.mp4"]
    assert "not a regular file" in reasons["media/folder.mp4"]
    assert "symlink points outside the data root" in reasons["media/link_out.mp4"]
    assert "file not found" in reasons["media/does_not_exist.mp4"]


def test_lying_header_gives_true_frame_count(bad):
    _, _, result = bad
    row = result.videos.set_index("path").loc["media/lying_count.avi"]
    assert row["frames"] == 10  # the header claims 40


def test_rotated_video_is_indexed_and_decoded_upright(bad):
    root, _, result = bad
    row = result.videos.set_index("path").loc["media/rotated_90.mp4"]
    assert (row["width"], row["height"], row["rotation"]) == (48, 96, 90)
    frames = read_frames(row["file"], [0])
    assert frames.shape == (1, 96, 48, 3)
    source = np.random.default_rng(9).integers(0, 256, (48, 96, 3), dtype=np.uint8)
    upright = np.rot90(source, 1).astype(int)
    assert np.abs(frames[0].astype(int) - upright).mean() < np.abs(frames[0].astype(int) - upright[::-1, ::-1]).mean()


def test_variable_frame_rate_frames_are_exact(bad):
    _, _, result = bad
    row = result.videos.set_index("path").loc["media/vfr.mp4"]
    reference = decode_all(row["file"])
    assert row["frames"] == len(reference) == 20
    for strategy in ("seek", "sequential"):
        np.testing.assert_array_equal(read_frames(row["file"], [0, 6, 13, 19], strategy=strategy), reference[[0, 6, 13, 19]])


def test_sizes_of_strange_geometries(bad, manifests):
    _, _, result = bad
    videos = result.videos.set_index("path")
    assert (videos.loc["media/odd_113x65.mkv", "width"], videos.loc["media/odd_113x65.mkv", "height"]) == (113, 65)
    assert (videos.loc["media/huge_4000x3000.mp4", "width"], videos.loc["media/huge_4000x3000.mp4", "height"]) == (4000, 3000)
    assert videos.loc["media/one_frame.mp4", "frames"] == 1 and videos.loc["media/still.png", "frames"] == 1
    letterbox = manifests["letterbox"].set_index("video_id")
    huge = letterbox.loc[videos.loc["media/huge_4000x3000.mp4", "video_id"]].iloc[0]
    assert (huge["content_width"], huge["content_height"], huge["width"], huge["height"]) == (32, 24, 32, 32)
    rotated = letterbox.loc[videos.loc["media/rotated_90.mp4", "video_id"]].iloc[0]
    assert (rotated["content_width"], rotated["content_height"]) == (16, 32)


def test_features_are_finite_on_every_decodable_strange_input(bad, manifests, tmp_path_factory):
    _, _, result = bad
    from fvc.features.extract import merge_feature_shards, shard_features
    from fvc.io.atomic import write_parquet

    for scaling, manifest in manifests.items():
        out = tmp_path_factory.mktemp(f"manifest_{scaling}")
        # The manifest's arrays live beside the manifest the shard wrote; point at that folder.
        shard_dir = next(p for p in tmp_path_factory.getbasetemp().rglob(f"{scaling}/manifest.parquet")).parent
        features = shard_features(shard_dir / "manifest.parquet")
        write_parquet(out / "shard.parquet", features)
        merged = merge_feature_shards([out / "shard.parquet"], result.videos)
        values = merged.drop(columns=["video_id", "copy"]).to_numpy(dtype=float)
        assert len(merged) == 2 * len(result.videos), scaling
        assert np.isfinite(values).all(), merged.columns[~np.isfinite(values).all(axis=0)].tolist()
