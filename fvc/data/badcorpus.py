"""A corpus of broken and strange inputs, for hardening tests and for trying the workflow on them.

``write_bad_corpus(root)`` writes one file per case under ``root/data`` plus a sample sheet
``root/data/samples.csv`` that also holds sheet-level problems (missing file, duplicate path, unknown
label, path outside the data root, a symlink out of it). Each :class:`BadCase` says whether the workflow
must decode it (``ok``) or reject it with a reason (``rejected``); nothing may stop the run.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd

from fvc.io.atomic import write_text
from fvc.io.encode import write_image, write_video

__all__ = ["BadCase", "write_bad_corpus"]


@dataclass(frozen=True)
class BadCase:
    kind: str
    path: str  # as written in the sample sheet (relative to the data root)
    label: str
    expected: str  # "ok" or "rejected"
    note: str = ""


def _frames(n: int, height: int, width: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return [np.roll(base, 3 * t, axis=1) for t in range(n)]


def _encode(path: Path, frames: list[np.ndarray], *, fps: int = 10, codec: str = "libx264", pix_fmt: str = "yuv420p",
            pts: list[int] | None = None, time_base: Fraction | None = None, rotation: int | None = None,
            options: dict[str, str] | None = None, format: str | None = None) -> None:  # fmt: skip
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w", format=format, options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = pts[i] if pts is not None else i
            if time_base is not None:
                frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _audio_only(path: Path) -> None:
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = np.sin(np.arange(16000, dtype=np.float32) / 10.0)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _lying_avi(path: Path, claimed: int) -> None:
    """An AVI whose main and stream headers claim ``claimed`` frames but which holds 10."""
    _encode(path, _frames(10, 48, 64, 5), codec="mpeg4", format="avi")
    data = bytearray(path.read_bytes())
    avih = data.find(b"avih")
    strh = data.find(b"strh")
    data[avih + 24 : avih + 28] = struct.pack("<I", claimed)  # MainAVIHeader.dwTotalFrames
    data[strh + 40 : strh + 44] = struct.pack("<I", claimed)  # AVIStreamHeader.dwLength
    path.write_bytes(bytes(data))


def write_bad_corpus(root: str | os.PathLike[str]) -> tuple[Path, list[BadCase]]:
    """Write the cases under ``root/data``; return the sample sheet and the cases (file and sheet level)."""
    data = Path(root) / "data"
    (data / "media").mkdir(parents=True, exist_ok=True)
    m = data / "media"
    cases: list[BadCase] = []

    def add(kind: str, name: str, label: str, expected: str, note: str = "") -> Path:
        cases.append(BadCase(kind, f"media/{name}", label, expected, note))
        return m / name

    write_video(add("good", "good_real.mp4", "real", "ok"), _frames(16, 64, 96, 1))
    write_video(add("good", "good_fake.mp4", "fake", "ok"), _frames(16, 64, 96, 2))
    add("zero_byte", "zero.mp4", "fake", "rejected").write_bytes(b"")
    write_video(m / ".whole.mp4", _frames(30, 64, 96, 3))
    whole = (m / ".whole.mp4").read_bytes()
    (m / ".whole.mp4").unlink()
    add("truncated_moov_at_end", "truncated.mp4", "real", "rejected", "index lost").write_bytes(whole[: len(whole) // 2])
    fast = m / ".fast.mp4"
    _encode(fast, _frames(30, 64, 96, 4), options={"movflags": "faststart"})
    cut = fast.read_bytes()
    fast.unlink()
    add("truncated_mid_stream", "truncated_faststart.mp4", "fake", "ok", "decodable head").write_bytes(cut[: len(cut) * 2 // 3])
    add("random_bytes", "random.mp4", "fake", "rejected").write_bytes(np.random.default_rng(0).bytes(20000))
    add("text_file", "notes.mp4", "real", "rejected").write_text("this is a text file, not a video\n" * 20)
    _audio_only(add("audio_only", "audio_only.mp4", "real", "rejected"))
    _lying_avi(add("lying_frame_count", "lying_count.avi", "fake", "ok", "header says 40, holds 10"), 40)
    write_video(add("one_frame", "one_frame.mp4", "real", "ok"), _frames(1, 64, 96, 6))
    _encode(add("huge_frame", "huge_4000x3000.mp4", "fake", "ok"), _frames(2, 3000, 4000, 7), options={})
    _encode(add("odd_size", "odd_113x65.mkv", "real", "ok"), _frames(5, 65, 113, 8), pix_fmt="yuv444p")
    _encode(add("rotated", "rotated_90.mp4", "fake", "ok"), _frames(6, 48, 96, 9), rotation=90)
    tb = Fraction(1, 1000)
    _encode(add("variable_fps", "vfr.mp4", "real", "ok"), _frames(20, 48, 64, 10), pts=[int(t) for t in np.cumsum([0] + [33, 33, 100] * 7)[:20]], time_base=tb)
    write_video(add("unicode_space_name", "vidéo ü 名前 x.mp4", "fake", "ok"), _frames(8, 64, 96, 11))
    write_image(add("still_png", "still.png", "real", "ok"), _frames(1, 50, 70, 12)[0])
    write_image(add("still_jpeg", "still.jpg", "fake", "ok"), _frames(1, 50, 70, 13)[0])
    (add("directory_named_mp4", "folder.mp4", "real", "rejected")).mkdir(exist_ok=True)

    outside = Path(root) / "outside"
    outside.mkdir(exist_ok=True)
    write_video(outside / "secret.mp4", _frames(4, 64, 96, 14))
    link = add("symlink_out_of_root", "link_out.mp4", "fake", "rejected")
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(outside / "secret.mp4", link)
    sheet_level = [
        BadCase("missing_file", "media/does_not_exist.mp4", "real", "rejected"),
        BadCase("path_outside_root", "../outside/secret.mp4", "real", "rejected"),
        BadCase("unknown_label", "media/good_real.mp4", "maybe", "rejected"),
        BadCase("duplicate_path", "media/good_fake.mp4", "fake", "rejected"),
    ]
    cases += sheet_level
    sheet = data / "samples.csv"
    rows = [{"path": c.path, "label": c.label, "group": f"g_{c.kind}"} for c in cases]
    write_text(sheet, pd.DataFrame(rows).to_csv(index=False))
    return sheet, cases
