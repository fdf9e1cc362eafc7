"""Clip shards: every video in exactly one shard, resumable inside, stale arrays redone, bad files recorded."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pandas as pd
import pytest

from fvc.data.clips import MAX_SUBSTITUTED_SHARE, extract_shard, load_clip, shard_videos
from fvc.data.index import build_index
from fvc.data.recipe import ClipRecipe
from fvc.data.sources import discover_folder
from fvc.io.scaling import frame_transform
from fvc.io.video import DecodeError, decode_all, probe, read_frames, sample_indices
from tests.conftest import moving_frames


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


def _ts_segment(path, height, width, first_pts, n=12):
    """An H.264 MPEG-TS whose timestamps start at ``first_pts`` (1/10 s), so segments can follow each other."""
    with av.open(str(path), mode="w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        stream.options = {"g": "6", "threads": "1"}
        for i, rgb in enumerate(moving_frames(n, height, width, seed=height)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = first_pts + i, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path.read_bytes()


def resolution_change_video(path):
    """96x64 for 12 frames, then 128x48 for 12: two MPEG-TS streams concatenated byte-wise, as broadcast
    recordings and naive joins produce. Timestamps continue (the second starts 2 frames later to clear the
    first's B-frame delay). Letterboxed to 32 per frame, the parts would need 32x32 and 32x16 boxes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [path.with_name(".a.tmp"), path.with_name(".b.tmp")]
    joined = _ts_segment(parts[0], 64, 96, 0) + _ts_segment(parts[1], 48, 128, 14)
    for part in parts:
        part.unlink()
    path.write_bytes(joined)
    return path


@pytest.mark.parametrize("scaling", ["letterbox", "crop", "fixed"])
def test_resolution_change_mid_stream_gives_clips_of_the_stated_shape(tmp_path, make_video, scaling):
    changing = resolution_change_video(tmp_path / "data" / "fake" / "joined.ts")
    videos = index_of(tmp_path, make_video, n=3)
    assert "fake/joined.ts" in set(videos["path"])
    info = probe(changing)
    assert (info.width, info.height, info.frames) == (96, 64, 24)
    assert {f.shape for f in decode_all_frames(changing)} == {(64, 96, 3), (48, 128, 3)}
    recipe = ClipRecipe("c", frames=6, size=32, scaling=scaling)
    out = tmp_path / "clips"
    manifest = extract_shard(videos, 0, 1, recipe, out)
    assert (manifest["status"] == "ok").all(), manifest["reason"].tolist()
    for row in manifest.itertuples():
        assert load_clip(out, row.array).shape == (row.frames, row.height, row.width, 3)
    row = manifest.set_index("video_id").loc[videos.set_index("path").loc["fake/joined.ts", "video_id"]]
    if scaling == "letterbox":  # the probed (first) geometry: 96x64 -> content 32x21 in a 32x32 box
        assert (row["content_width"], row["content_height"], row["width"], row["height"]) == (32, 21, 32, 32)


def decode_all_frames(path):
    from fvc.io.video import iter_frames

    return [frame.to_ndarray(format="rgb24") for frame in iter_frames(path)]


def test_resolution_change_without_fixed_geometry_is_a_decode_error(tmp_path):
    changing = resolution_change_video(tmp_path / "joined.ts")
    with pytest.raises(DecodeError, match="frame size changes"):
        read_frames(changing, [0, 20])  # native size: no single shape
    assert read_frames(changing, [0, 20], frame_transform("letterbox", 32, display_size=(96, 64))).shape == (2, 32, 32, 3)
    with pytest.raises(DecodeError, match="frame size changes"):
        read_frames(changing, [0, 20], frame_transform("letterbox", 32))  # per-frame geometry differs


def mjpeg_avi(path, n=12, broken=()):
    """An intra-only AVI whose packets ``broken`` are zeroed: exactly those frames cannot decode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="avi") as container:
        stream = container.add_stream("mjpeg", rate=8)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuvj420p"
        for i, rgb in enumerate(moving_frames(n, 64, 96, seed=3)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:
        spans = [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size]
    data = bytearray(path.read_bytes())
    for index in broken:
        pos, size = spans[index]
        data[pos : pos + size] = bytes(size)
    path.write_bytes(bytes(data))
    return path


def test_read_frames_reports_substituted_positions(tmp_path):
    path = mjpeg_avi(tmp_path / "one_bad.avi", broken=[4])
    reference = decode_all(mjpeg_avi(tmp_path / "intact.avi"))
    for strategy in ("seek", "sequential"):
        substituted: list[int] = []
        got = read_frames(path, [1, 4, 4, 7, 10], strategy=strategy, substituted=substituted)
        assert substituted == [4]
        np.testing.assert_array_equal(got[[1, 2]], reference[[1, 1]])  # the nearest earlier decoded frame stands in
        np.testing.assert_array_equal(got[[0, 3, 4]], reference[[1, 7, 10]])


def test_substituted_frames_are_recorded_and_too_many_reject_the_video(tmp_path, make_video):
    # 12 frames sampled at 4 positions: [1, 4, 7, 10].
    assert sample_indices(12, 4).tolist() == [1, 4, 7, 10] and MAX_SUBSTITUTED_SHARE == 0.25
    mjpeg_avi(tmp_path / "data" / "fake" / "one_bad.avi", broken=[4])
    mjpeg_avi(tmp_path / "data" / "fake" / "two_bad.avi", broken=[4, 7])
    garbled = make_video("data/real/garbled.mp4", n=40, seed=9)
    videos = index_of(tmp_path, make_video, n=2)
    # Garbage over the middle after indexing (the moov index at the end survives): packets, but no pictures.
    data = bytearray(garbled.read_bytes())
    a, b = int(len(data) * 0.3), int(len(data) * 0.6)
    data[a:b] = np.random.default_rng(1).bytes(b - a)
    garbled.write_bytes(bytes(data))
    recipe = ClipRecipe("c", frames=4, size=32, scaling="crop", copies=1)
    out = tmp_path / "clips"
    manifest = extract_shard(videos, 0, 1, recipe, out)
    by_path = manifest.merge(videos[["video_id", "path"]]).set_index(["path", "copy"])

    one = by_path.loc[("fake/one_bad.avi", 0)]
    assert one["status"] == "ok" and one["substituted"] == 1 and list(one["substituted_positions"]) == [4]
    two = by_path.loc[("fake/two_bad.avi", 0)]
    assert two["status"] == "rejected" and two["array"] == ""
    assert "2 of 4 sampled frames undecodable" in two["reason"] and two["substituted"] == 2
    assert by_path.loc[("real/garbled.mp4", 0), "status"] == "rejected"
    assert "undecodable" in by_path.loc[("real/garbled.mp4", 0), "reason"]
    for name in ("real/v1.mp4", "fake/v0.mp4"):
        assert by_path.loc[(name, 0), "status"] == "ok" and by_path.loc[(name, 0), "substituted"] == 0
    rejected_ids = set(manifest.loc[manifest["status"] == "rejected", "video_id"])
    assert not [p for p in out.glob("*.npy") if p.name.split("_c")[0] in rejected_ids]

    # A resumed shard (one clip lost) reads the finished clips' records: the same manifest, no re-decoding.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")}
    lost = one["array"]
    (out / lost).unlink()
    resumed = extract_shard(videos, 0, 1, recipe, out)
    pd.testing.assert_frame_equal(resumed, manifest)
    del stamps[lost]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy") if p.name != lost} == stamps


def test_predict_clip_matches_the_clips_stage_on_damaged_and_changing_streams(tmp_path):
    from fvc.data.clips import read_clip

    changing = resolution_change_video(tmp_path / "joined.ts")
    assert read_clip(changing, ClipRecipe("c", frames=6, size=32, scaling="letterbox")).shape == (6, 32, 32, 3)
    damaged = mjpeg_avi(tmp_path / "two_bad.avi", broken=[4, 7])
    with pytest.raises(DecodeError, match="2 of 4 sampled frames undecodable"):
        read_clip(damaged, ClipRecipe("c", frames=4, size=32, scaling="crop"))
    one_bad = mjpeg_avi(tmp_path / "one_bad.avi", broken=[4])
    assert read_clip(one_bad, ClipRecipe("c", frames=4, size=32, scaling="crop")).shape == (4, 32, 32, 3)


def test_letterbox_bars_mirror_the_picture():
    """Bars hold the picture's mirror image, not black: no shape-dependent constant region, no added edge."""
    from fvc.io.scaling import letterbox_geometry, mirror_pad

    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (21, 32, 3), dtype=np.uint8)
    geo = letterbox_geometry(96, 64, 32)  # content 32x21 in a 32x32 box: 5 rows above, 6 below
    out = mirror_pad(content, geo)
    assert out.shape == (32, 32, 3) and (geo.pad_top, geo.content_height) == (5, 21)
    np.testing.assert_array_equal(out[5:26], content)
    np.testing.assert_array_equal(out[:5], content[:5][::-1])  # the rows next to the picture, reflected
    np.testing.assert_array_equal(out[26:], content[-6:][::-1])
    sliver = rng.integers(0, 256, (2, 32, 3), dtype=np.uint8)  # bars wider than the picture itself
    box = letterbox_geometry(32, 2, 32)
    padded = mirror_pad(sliver, box)
    assert padded.shape == (box.height, box.width, 3)
    assert set(np.unique(padded[:, 0, 0])) <= set(sliver[:, 0, 0])


def test_letterbox_shrinks_large_frames_and_never_enlarges_small_ones():
    """Enlarging would write an interpolation trace (the upsample family's) onto every small real video."""
    from fvc.io.scaling import letterbox_geometry

    small = letterbox_geometry(96, 72, 112)
    assert (small.content_width, small.content_height, small.width, small.height) == (96, 72, 96, 80)
    large = letterbox_geometry(1920, 1080, 112)
    assert (large.content_width, large.content_height, large.width, large.height) == (112, 63, 112, 64)
