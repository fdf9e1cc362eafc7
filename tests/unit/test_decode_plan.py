"""Exact sampled decoding: seek and sequential plans return the frames a full decode has at those positions."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from fvc.io.video import decode_all, frame_table, plan_decode, read_frames, sample_indices


def write_gop_video(path: Path, *, frames: int, gop: int, seed: int, options: dict[str, str] | None = None,
                    fmt: str | None = None, codec: str = "libx264") -> Path:
    """A moving texture, 64x48, a keyframe exactly every ``gop`` frames (no scene-cut keyframes)."""
    base = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    with av.open(str(path), mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "threads": "1", **(options or {})}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i, axis=1) // 2 + i, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def long_gop_video(tmp_path_factory):
    """120 frames, keyframe every 24, B-frames with pyramid: reordering and seeking both matter."""
    return write_gop_video(tmp_path_factory.mktemp("gop") / "gop.mp4", frames=120, gop=24, seed=0, options={"bf": "3"})


def test_frame_table(long_gop_video):
    table = frame_table(long_gop_video)
    assert table.count == 120
    assert table.keyframes.tolist() == [0, 24, 48, 72, 96]
    assert np.all(np.diff(table.pts) > 0)


@pytest.mark.parametrize("positions", [[5], [0, 119], [30, 31, 32, 100, 101], [119, 3, 60, 60, 3], list(range(0, 120, 7))])
@pytest.mark.parametrize("strategy", ["seek", "sequential", "auto"])
def test_read_frames_equal_full_decode(long_gop_video, positions, strategy):
    reference = decode_all(long_gop_video)
    got = read_frames(long_gop_video, positions, strategy=strategy)
    np.testing.assert_array_equal(got, reference[positions])


def test_plan_prefers_seeking_for_sparse_samples_and_one_pass_for_dense(long_gop_video):
    table = frame_table(long_gop_video)
    sparse = plan_decode(table, [100])
    assert sparse.strategy == "seek" and sparse.segments == ((96, (100,)),)
    dense = plan_decode(table, sample_indices(120, 60))
    assert dense.strategy == "sequential"
    assert plan_decode(table, sample_indices(120, 4)).frames_decoded < 120


def test_stride_sampling():
    assert sample_indices(100, 4, mode="stride", stride=5).tolist() == [42, 47, 52, 57]
    assert sample_indices(6, 4, mode="stride", stride=3).tolist() == [0, 3, 5, 5]
    with pytest.raises(ValueError, match="sampling mode"):
        sample_indices(10, 2, mode="random")


# Every container the probe accepts, with several GOPs. MPEG-TS and MPEG-PS have no keyframe index: their seek
# is a timestamp search that lands past the keyframe it aims at, which used to lose the frames ("no decodable
# video frame") or substitute them.
MULTI_GOP = {
    "ts": ("mpegts", "libx264"), "mpg": ("mpeg", "mpeg2video"), "mkv": ("matroska", "libx264"), "mp4": ("mp4", "libx264"),
    "avi": ("avi", "mpeg4"), "webm": ("webm", "libvpx"), "flv": ("flv", "flv"), "wmv": ("asf", "wmv2"),
}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(MULTI_GOP))
def multi_gop_video(request, tmp_path_factory):
    """60 frames, a keyframe every 10."""
    fmt, codec = MULTI_GOP[request.param]
    path = tmp_path_factory.mktemp("multigop") / f"gop.{request.param}"
    return write_gop_video(path, frames=60, gop=10, seed=1, fmt=fmt, codec=codec)


@pytest.mark.parametrize("positions", [[5], [0, 59], [15, 35, 55], [30, 31, 45], list(range(0, 60, 7))])
@pytest.mark.parametrize("strategy", ["seek", "auto"])
def test_multi_gop_containers_decode_exactly(multi_gop_video, positions, strategy):
    table = frame_table(multi_gop_video)
    assert table.count == 60 and table.keyframes.tolist() == [0, 10, 20, 30, 40, 50]
    reference = decode_all(multi_gop_video)
    substituted: list[int] = []
    got = read_frames(multi_gop_video, positions, strategy=strategy, substituted=substituted)
    np.testing.assert_array_equal(got, reference[positions])
    assert substituted == []


def test_sparse_multi_gop_sample_is_planned_as_seeks(multi_gop_video):
    """So that the exactness test above really goes through the seek path."""
    assert plan_decode(frame_table(multi_gop_video), [15, 35, 55]).strategy == "seek"
