"""Probing and sampled decoding against a reference full decode."""

from __future__ import annotations

import numpy as np
import pytest

from fvc.io.scaling import centre_crop, frame_transform
from fvc.io.video import DecodeError, decode_all, probe, read_frames, sample_indices


def test_probe_video(make_video):
    info = probe(make_video(n=12, height=64, width=96, fps=8))
    assert (info.width, info.height, info.frames, info.is_image) == (96, 64, 12, False)
    assert info.fps == pytest.approx(8.0)
    assert info.duration == pytest.approx(1.5)
    assert info.codec == "h264" and info.bitrate > 0


def test_probe_image_is_one_frame_video(make_image):
    info = probe(make_image(height=48, width=80))
    assert (info.width, info.height, info.frames, info.is_image) == (80, 48, 1, True)


def test_sample_indices_uniform_and_padded():
    assert sample_indices(12, 4).tolist() == [1, 4, 7, 10]
    assert sample_indices(1, 3).tolist() == [0, 0, 0]
    assert sample_indices(3, 5).tolist() == [0, 0, 1, 2, 2]
    with pytest.raises(ValueError):
        sample_indices(0, 4)


def test_read_frames_equal_reference_full_decode(make_video):
    path = make_video(n=20)
    reference = decode_all(path)
    indices = [17, 2, 9, 9, 0]
    got = read_frames(path, indices)
    np.testing.assert_array_equal(got, reference[indices])


def test_read_frames_past_end_repeats_last_frame(make_video):
    path = make_video(n=6)
    got = read_frames(path, [4, 5, 8])
    np.testing.assert_array_equal(got[2], got[1])


def test_transforms_shape(make_video):
    path = make_video(n=6, height=64, width=96)
    assert read_frames(path, [0, 3], frame_transform("fixed", 32)).shape == (2, 32, 32, 3)
    cropped = read_frames(path, [0], frame_transform("crop", 48))
    full = read_frames(path, [0])
    np.testing.assert_array_equal(cropped[0], full[0, 8:56, 24:72])


def test_centre_crop_pads_small_frames_by_mirroring():
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    out = centre_crop(rgb, 8)
    assert out.shape == (8, 8, 3)
    np.testing.assert_array_equal(out[2:6, 1:7], rgb)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty file"), (b"this is not a video\n" * 10, "unreadable media"), (np.random.default_rng(0).bytes(4096), "unreadable media")],
)
def test_probe_rejects_bad_files_with_reason(tmp_path, content, reason):
    path = tmp_path / "bad file ü.mp4"
    path.write_bytes(content)
    with pytest.raises(DecodeError) as excinfo:
        probe(path)
    assert reason in str(excinfo.value) and "bad file ü.mp4" in str(excinfo.value)


def test_probe_rejects_truncated_video(make_video):
    path = make_video(n=24)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DecodeError):
        probe(path)
