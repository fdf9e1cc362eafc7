"""Probe and sampled decoding of videos and still images with PyAV.

Still images (PNG/JPEG/...) open through FFmpeg's image demuxers and come out as 1-frame videos, so the
rest of the workflow never branches on the file type.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "DecodeError",
    "VideoInfo",
    "iter_frames",
    "probe",
    "read_frames",
    "sample_indices",
]

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".flv", ".wmv"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


class DecodeError(RuntimeError):
    """A file that cannot be used as a video; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


@dataclass(frozen=True)
class VideoInfo:
    """What the index records about a decodable file."""

    width: int
    height: int
    fps: float
    frames: int
    duration: float
    codec: str
    bitrate: int
    rotation: int
    is_image: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read the container and decode the first frame; raise :class:`DecodeError` with a reason otherwise.

    Decoding one frame catches files whose header parses but whose stream does not (truncated, garbage
    after a valid header) at index time, before any model depends on them.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DecodeError(path, f"cannot stat file ({exc.strerror or exc})") from None
    if size == 0:
        raise DecodeError(path, "empty file (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                kinds = sorted({s.type for s in container.streams}) or ["none"]
                raise DecodeError(path, f"no video stream (streams: {', '.join(kinds)})")
            stream = container.streams.video[0]
            is_image = path.suffix.lower() in IMAGE_SUFFIXES or container.format.name.endswith("_pipe")
            first = _first_frame(container, stream)
            if first is None:
                raise DecodeError(path, "no decodable video frame")
            width, height = first.width, first.height
            rotation = int(getattr(first, "rotation", 0) or 0)
            if is_image:
                return VideoInfo(width, height, 0.0, 1, 0.0, stream.codec_context.name, 0, rotation, True)
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            duration = _duration_seconds(container, stream)
            frames = int(stream.frames or 0)
            if frames <= 0:
                frames = _count_packets(path)
            if frames <= 0 and duration > 0 and fps > 0:
                frames = int(round(duration * fps))
            if duration <= 0 and fps > 0:
                duration = frames / fps
            bitrate = int(container.bit_rate or (size * 8 / duration if duration > 0 else 0))
            return VideoInfo(width, height, fps, frames, duration, stream.codec_context.name, bitrate, rotation, False)
    except DecodeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise DecodeError(path, f"unreadable media ({type(exc).__name__}: {exc})") from None


def sample_indices(total: int, num: int) -> np.ndarray:
    """``num`` frame indices spread uniformly over ``total`` frames (centre of each of ``num`` segments).

    With fewer frames than asked for, indices repeat (a 1-frame image becomes a clip of ``num`` copies).
    """
    if total <= 0 or num <= 0:
        raise ValueError(f"need total > 0 and num > 0, got total={total}, num={num}")
    centres = (np.arange(num) + 0.5) * total / num
    return np.minimum(np.floor(centres).astype(np.int64), total - 1)


def iter_frames(path: str | os.PathLike[str]) -> Iterator[av.VideoFrame]:
    """Every decoded frame of the first video stream, in presentation order (a reference full decode)."""
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from container.decode(stream)


def read_frames(
    path: str | os.PathLike[str],
    indices: Sequence[int],
    transform: Callable[[av.VideoFrame], np.ndarray] | None = None,
) -> np.ndarray:
    """Decode the frames at ``indices`` (any order, repeats allowed) in one sequential pass.

    Only the kept frames are held, each already passed through ``transform`` (default: full-size RGB), so
    memory is O(len(indices) x output frame) whatever the video's length. A stream that ends before the
    largest index (a container that overstates its frame count) repeats its last frame for the missing
    indices rather than failing the whole clip.
    """
    wanted = np.asarray(indices, dtype=np.int64)
    if wanted.size == 0:
        raise ValueError("no frame indices requested")
    transform = transform or (lambda frame: frame.to_ndarray(format="rgb24"))
    needed = set(int(i) for i in wanted)
    last_needed = int(wanted.max())
    kept: dict[int, np.ndarray] = {}
    frames = iter_frames(path)
    try:
        for position, frame in enumerate(frames):
            if position in needed:
                kept[position] = transform(frame)
            if position >= last_needed:
                break
    except (av.error.FFmpegError, OSError) as exc:
        # A stream corrupt past some point still yields the frames before it; fail only if none came.
        if not kept:
            raise DecodeError(path, f"decoding failed ({type(exc).__name__}: {exc})") from None
    finally:
        frames.close()
    if not kept:
        raise DecodeError(path, "no decodable video frame")
    # Indices past the end of a stream shorter than its header claims repeat the last decoded frame.
    fallback = kept[max(kept)]
    return np.stack([kept.get(int(i), fallback) for i in wanted])


def _first_frame(container: av.container.InputContainer, stream: av.VideoStream) -> av.VideoFrame | None:
    for frame in container.decode(stream):
        return frame
    return None


def _duration_seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _count_packets(path: Path) -> int:
    # Demuxing without decoding reads the file but costs no pixel work; used only when the header has no count.
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size > 0)
