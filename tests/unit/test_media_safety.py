"""A sample is that one regular file: no playlist, concat list, pattern or pipe reaches other data; no huge frame."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from fvc.data.index import build_index
from fvc.data.sources import discover_folder
from fvc.io import video
from fvc.io.encode import write_image, write_video
from fvc.io.video import DecodeError, decode_all, frame_table, open_media, probe, read_frames
from tests.conftest import moving_frames


def write_with(path: Path, fmt: str, codec: str, *, n: int = 10, height: int = 48, width: int = 64) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, rgb in enumerate(moving_frames(n, height, width)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def outside(tmp_path):
    """A real MPEG-TS and mp4 outside the data root, and the (empty) data root."""
    ts = write_with(tmp_path / "outside" / "seg.ts", "mpegts", "libx264")
    mp4 = tmp_path / "outside" / "secret.mp4"
    write_video(mp4, moving_frames(6), fps=8)
    root = tmp_path / "data"
    root.mkdir()
    return root, ts, mp4


def assert_refused(path: Path, *reason_parts: str) -> DecodeError:
    """probe, frame_table and read_frames all refuse ``path`` with a reason naming it."""
    with pytest.raises(DecodeError) as probed:
        probe(path)
    assert path.name in str(probed.value)
    for part in reason_parts:
        assert part in probed.value.reason
    with pytest.raises(DecodeError):
        frame_table(path)
    with pytest.raises(DecodeError):
        read_frames(path, [0])
    return probed.value


def decode_errors_unless_fifo_blocks(calls, path: Path, fifo: Path, blocked: str) -> list[DecodeError]:
    """The DecodeErrors of ``call(path)`` for each call, run in a thread; if it is still waiting after 20 s
    (FFmpeg opened ``fifo`` and waits for a writer), release the pipe and fail with ``blocked``."""
    errors: list[DecodeError] = []

    def attempt() -> None:
        for call in calls:
            try:
                call(path)
            except DecodeError as exc:
                errors.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(blocked)
    return errors


def test_hls_playlist_with_segment_outside_the_root_is_refused(outside):
    root, ts, _ = outside
    # Sanity: FFmpeg on its own follows the playlist out of the root (what fvc used to index and train on).
    playlist = root / "play.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
                        f"#EXTINF:1.0,\n../outside/{ts.name}\n#EXT-X-ENDLIST\n")  # fmt: skip
    with av.open(str(playlist)) as container:
        assert container.format.name == "hls" and sum(1 for _ in container.decode(video=0)) == 10
    assert_refused(playlist, "container format 'hls' is not accepted")
    renamed = root / "play.mp4"
    renamed.write_bytes(playlist.read_bytes())
    assert_refused(renamed)


def test_playlist_is_refused_before_its_segments_are_opened(outside):
    """The segment is a FIFO: opening it would block, so returning at all shows it was never opened."""
    root, _, _ = outside
    segment = root.parent / "outside" / "pipe.ts"
    os.mkfifo(segment)
    playlist = root / "play.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n../outside/{segment.name}\n#EXT-X-ENDLIST\n")
    errors = decode_errors_unless_fifo_blocks([probe], playlist, segment, "the playlist's segment was opened")
    assert len(errors) == 1 and "'hls' is not accepted" in errors[0].reason


@pytest.mark.parametrize("entry", ["absolute", "relative_symlink"])
def test_ffconcat_list_is_refused(outside, entry):
    root, _, secret = outside
    if entry == "absolute":
        target = str(secret)
    else:  # FFmpeg's safe mode accepts a plain relative name, even one that is a symlink out of the root
        (root / "inner.mp4").symlink_to(secret)
        target = "inner.mp4"
    listing = root / "list.mp4"
    listing.write_text(f"ffconcat version 1.0\nfile '{target}'\n")
    assert_refused(listing, "container format 'concat' is not accepted")


def test_image_sequence_pattern_is_refused(tmp_path, make_image):
    make_image("data/x1.jpg")
    make_image("data/x2.jpg")
    pattern = make_image("data/x%d.jpg")
    assert_refused(pattern, "'%'")


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    calls = [probe, frame_table, lambda p: read_frames(p, [0]), lambda p: open_media(p).close()]
    errors = decode_errors_unless_fifo_blocks(calls, fifo, fifo, "opening a FIFO blocked")
    assert len(errors) == 4 and all("not a regular file (a FIFO)" in e.reason for e in errors)


def test_directory_is_refused(tmp_path):
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    assert "not a regular file (a directory)" in assert_refused(folder).reason


CONTAINERS = {
    ".mp4": ("mp4", "libx264"), ".mov": ("mov", "libx264"), ".mkv": ("matroska", "libx264"), ".webm": ("webm", "libvpx"),
    ".avi": ("avi", "mpeg4"), ".ts": ("mpegts", "libx264"), ".mpg": ("mpeg", "mpeg2video"), ".flv": ("flv", "flv"),
    ".wmv": ("asf", "wmv2"),
}  # fmt: skip


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
def test_accepted_video_containers_still_decode(tmp_path, suffix):
    fmt, codec = CONTAINERS[suffix]
    path = write_with(tmp_path / f"v{suffix}", fmt, codec)
    info = probe(path)
    assert (info.width, info.height, info.frames, info.is_image) == (64, 48, 10, False)
    with open_media(path) as container:
        assert container.format.name in video.ACCEPTED_FORMATS
    np.testing.assert_array_equal(read_frames(path, [0, 9]), decode_all(path)[[0, 9]])


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"])
def test_accepted_still_images_still_decode(tmp_path, suffix):
    path = tmp_path / f"still{suffix}"
    Image.fromarray(moving_frames(1, 48, 80)[0]).save(path)
    info = probe(path)
    assert (info.width, info.height, info.frames, info.is_image) == (80, 48, 1, True)
    assert read_frames(path, [0, 0]).shape == (2, 48, 80, 3)


def test_index_leaves_out_concat_lists_and_keeps_videos(outside):
    root, _, secret = outside
    write_video(root / "real" / "ok.mp4", moving_frames(8), fps=8)
    (root / "fake").mkdir()
    (root / "fake" / "inner.mp4").symlink_to(secret)  # rejected itself, but the list would read through it
    (root / "fake" / "list.mp4").write_text("ffconcat version 1.0\nfile 'inner.mp4'\n")
    result = build_index(*discover_folder(root))
    assert result.videos["path"].tolist() == ["real/ok.mp4"]
    reasons = dict(zip(result.rejected["path"], result.rejected["reason"]))
    assert "'concat' is not accepted" in reasons["fake/list.mp4"]


def _png(width: int, height: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_huge_image_is_refused_from_its_header(tmp_path):
    real = tmp_path / "wide.png"
    Image.fromarray(np.zeros((2500, 20000, 3), dtype=np.uint8)).save(real)  # 50 M pixels, compresses to ~150 kB
    error = assert_refused(real, "20000x2500", "exceeds the limit")
    assert "MAX_PIXELS" in error.reason
    # A header claiming 16000x16000 over pixel data that cannot decode: refused for its size, so the decision
    # came from the header (decoding would have failed with another reason, after allocating 768 MB).
    claimed = tmp_path / "claimed.png"
    claimed.write_bytes(_png(16000, 16000, zlib.compress(b"\0" * 1000)[:-4]))
    assert_refused(claimed, "256.0 M pixels", "exceeds the limit")


def test_pixel_limit_applies_to_video_streams(make_video, monkeypatch):
    path = make_video(n=4, height=64, width=96)
    monkeypatch.setattr(video, "MAX_PIXELS", 96 * 64 - 1)
    assert_refused(path, "96x64", "exceeds the limit")
    monkeypatch.setattr(video, "MAX_PIXELS", 96 * 64)
    assert probe(path).frames == 4


def test_small_images_in_any_accepted_format_pass_the_pixel_check(tmp_path):
    path = tmp_path / "still.jpg"
    write_image(path, moving_frames(1, 64, 96)[0])
    assert probe(path).width == 96


def test_predict_reads_only_what_the_index_would(outside, make_video):
    """``fvc predict`` decodes through the same gate (read_clip: probe, frame_table, read_frames)."""
    from fvc.data.recipe import ClipRecipe
    from fvc.data.clips import read_clip

    root, ts, _ = outside
    recipe = ClipRecipe("c", frames=4, size=32, scaling="letterbox")
    playlist = root / "play.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n../outside/{ts.name}\n#EXT-X-ENDLIST\n")
    with pytest.raises(DecodeError, match="'hls' is not accepted"):
        read_clip(playlist, recipe)
    fifo = root / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(DecodeError, match="not a regular file"):
        read_clip(fifo, recipe)
    assert read_clip(make_video(n=8), recipe).shape == (4, 32, 32, 3)
