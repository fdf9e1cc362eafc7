"""Clip shards: every video in exactly one shard, resumable inside, stale arrays redone, bad files recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fvc.config import ClipRecipe
from fvc.data.clips import extract_shard, load_clip, shard_videos
from fvc.data.index import build_index
from fvc.data.sources import discover_folder
from fvc.io.video import read_frames, sample_indices


def index_of(tmp_path, make_video, n=6):
    for i in range(n):
        make_video(f"data/{'real' if i % 2 else 'fake'}/v{i}.mp4", n=10, seed=i)
    return build_index(*discover_folder(tmp_path / "data")).videos


def test_shards_partition_the_index(tmp_path, make_video):
    videos = index_of(tmp_path, make_video)
    parts = [shard_videos(videos, s, 3) for s in range(3)]
    ids = pd.concat(parts)["video_id"]
    assert sorted(ids) == sorted(videos["video_id"])


def test_extract_writes_expected_frames_and_resumes(tmp_path, make_video):
    videos = index_of(tmp_path, make_video)
    recipe = ClipRecipe("c", frames=4, size=32, scaling="crop")
    out = tmp_path / "clips" / "shard_0"
    manifest = extract_shard(videos, 0, 1, recipe, out)
    assert (manifest["status"] == "ok").all() and len(manifest) == len(videos)
    first = videos.iloc[0]
    clip = load_clip(out, f"{first.video_id}_c0.npy")
    expected = read_frames(first.file, sample_indices(10, 4))[:, 16:48, 32:64]
    np.testing.assert_array_equal(clip, expected)

    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")}
    extract_shard(videos, 0, 1, recipe, out)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")} == stamps

    changed = ClipRecipe("c", frames=4, size=32, scaling="fixed")
    extract_shard(videos, 0, 1, changed, out)
    assert not np.array_equal(load_clip(out, f"{first.video_id}_c0.npy"), clip)


def test_undecodable_video_is_recorded_and_shard_finishes(tmp_path, make_video):
    videos = index_of(tmp_path, make_video)
    broken = videos.iloc[2]
    with open(broken.file, "r+b") as handle:  # corrupt after indexing: header gone, size kept
        handle.write(b"\0" * 64)
    manifest = extract_shard(videos, 0, 1, ClipRecipe("c", 3, 16, "fixed"), tmp_path / "clips")
    row = manifest.set_index("video_id").loc[broken.video_id]
    assert row["status"] == "rejected" and row["reason"]
    assert (manifest["status"] == "ok").sum() == len(videos) - 1
