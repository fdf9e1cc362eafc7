"""Probe and exact sampled decoding of videos and still images with PyAV.

Frames are addressed by their position in presentation order, identified through packet timestamps
(pts), never by ``index / fps`` arithmetic: that is what keeps variable-frame-rate files and streams whose
header lies about their length exact. A demux pass (no decoding) builds the :class:`FrameTable`; a
per-video plan then decides between seeking to the keyframe before each wanted group of frames and one
sequential pass, whichever decodes fewer frames. Either way only the kept frames are held, and packets
that nothing needs (non-reference frames that are not wanted) are skipped by the decoder.

Still images (PNG/JPEG/...) open through FFmpeg's image demuxers and come out as 1-frame videos, so the
rest of the workflow never branches on the file type.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "DecodePlan",
    "DecodeError",
    "FrameTable",
    "VideoInfo",
    "decode_all",
    "frame_table",
    "iter_frames",
    "plan_decode",
    "probe",
    "read_frames",
    "sample_indices",
]

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".flv", ".wmv"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})

# A seek costs about as much as decoding this many frames (demuxer reset, decoder flush, I/O).
SEEK_COST_FRAMES = 4
# Packets a frame can trail its own packet by (H.264's maximum reordering depth).
REORDER_DEPTH = 16
# Consecutive undecodable packets tolerated before a stream is declared broken.
MAX_BAD_PACKETS = 32

FrameTransform = Callable[[av.VideoFrame, int], np.ndarray]


class DecodeError(RuntimeError):
    """A file that cannot be used as a video; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


@dataclass(frozen=True)
class VideoInfo:
    """What the index records about a decodable file; ``width``/``height`` are as displayed (rotation applied)."""

    width: int
    height: int
    fps: float
    frames: int
    duration: float
    codec: str
    bitrate: int
    rotation: int
    is_image: bool
    gop: float = 0.0  # mean frames per keyframe interval (0 for still images)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class FrameTable:
    """Every frame of the first video stream in presentation order, from a demux pass (no decoding).

    ``pts`` is None for streams without timestamps (some AVI/raw streams); frames are then addressed by
    their decode position.
    """

    pts: np.ndarray | None  # int64, strictly increasing
    keyframes: np.ndarray  # sorted frame positions that decoding can start from
    time_base: Fraction | None
    count: int

    def keyframe_before(self, position: int) -> int:
        i = int(np.searchsorted(self.keyframes, position, side="right")) - 1
        return int(self.keyframes[max(i, 0)])


@dataclass(frozen=True)
class DecodePlan:
    """Groups of wanted frame positions, each decoded from ``start`` (a keyframe) after one seek."""

    strategy: str  # "sequential" or "seek"
    segments: tuple[tuple[int, tuple[int, ...]], ...]
    frames_decoded: int  # the cost model's estimate


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
            first = next(iter(container.decode(stream)), None)
            if first is None:
                raise DecodeError(path, "no decodable video frame")
            rotation = _rotation(first)
            width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
            if is_image:
                return VideoInfo(width, height, 0.0, 1, 0.0, stream.codec_context.name, 0, rotation, True)
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            duration = _duration_seconds(container, stream)
            # Count what the file really holds: headers can overstate (truncated files) or lie outright.
            table = frame_table(path)
            frames = table.count
            if duration <= 0 and fps > 0:
                duration = frames / fps
            bitrate = int(container.bit_rate or (size * 8 / duration if duration > 0 else 0))
            gop = frames / len(table.keyframes)
            return VideoInfo(width, height, fps, frames, duration, stream.codec_context.name, bitrate, rotation, False, gop)
    except DecodeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError, StopIteration) as exc:
        raise DecodeError(path, f"unreadable media ({type(exc).__name__}: {exc})") from None


def frame_table(path: str | os.PathLike[str]) -> FrameTable:
    """Demux (without decoding) the first video stream: the true frame count, pts and keyframes.

    Packets the container indexes but the file no longer holds (a truncated file) end the table where the
    data ends, so the count is what can really be decoded, whatever the header says.
    """
    pts: list[int | None] = []
    keys: list[bool] = []
    try:
        with av.open(os.fspath(path)) as container:
            stream = container.streams.video[0]
            time_base = stream.time_base
            try:
                for packet in container.demux(stream):
                    if packet.size == 0:
                        continue
                    pts.append(packet.pts if packet.pts is not None else packet.dts)
                    keys.append(bool(packet.is_keyframe))
            except (av.error.FFmpegError, OSError) as exc:
                log.warning("%s: demuxing stopped after %d packets (%s)", path, len(pts), exc)
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise DecodeError(path, f"unreadable media ({type(exc).__name__}: {exc})") from None
    if not pts:
        raise DecodeError(path, "no video packets")
    if any(p is None for p in pts):
        # No timestamps: address frames by decode position; only the start is a safe entry point.
        return FrameTable(pts=None, keyframes=np.array([0]), time_base=None, count=len(pts))
    values = np.asarray(pts, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    sorted_pts = values[order]
    unique = np.concatenate([[True], np.diff(sorted_pts) > 0])
    sorted_pts, key_sorted = sorted_pts[unique], np.asarray(keys)[order][unique]
    keyframes = np.flatnonzero(key_sorted)
    if keyframes.size == 0 or keyframes[0] != 0:
        keyframes = np.concatenate([[0], keyframes])
    return FrameTable(pts=sorted_pts, keyframes=keyframes.astype(np.int64), time_base=time_base, count=len(sorted_pts))


def sample_indices(total: int, num: int, *, mode: str = "uniform", stride: int = 1) -> np.ndarray:
    """``num`` frame positions out of ``total``.

    ``uniform``: the centre of each of ``num`` equal segments. ``stride``: every ``stride``-th frame of a
    window centred in the video. With fewer frames than asked for, positions repeat (a 1-frame image
    becomes a clip of ``num`` copies of itself).
    """
    if total <= 0 or num <= 0:
        raise ValueError(f"need total > 0 and num > 0, got total={total}, num={num}")
    if mode == "uniform":
        centres = (np.arange(num) + 0.5) * total / num
        return np.minimum(np.floor(centres).astype(np.int64), total - 1)
    if mode == "stride":
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        span = stride * (num - 1) + 1
        start = max(0, (total - span) // 2)
        return np.minimum(start + stride * np.arange(num, dtype=np.int64), total - 1)
    raise ValueError(f"unknown sampling mode '{mode}' (known: uniform, stride)")


def plan_decode(table: FrameTable, positions: Sequence[int], *, strategy: str = "auto") -> DecodePlan:
    """Choose how to reach ``positions``: one pass from the start, or one seek per keyframe group.

    The cost model counts decoded frames: sequential decodes up to the last wanted frame; seeking decodes,
    for each group of wanted frames sharing a keyframe, from that keyframe to the group's last frame, plus
    a fixed cost per seek. Dense samples favour the single pass, sparse samples in long GOPs the seeks.
    """
    wanted = sorted({int(p) for p in positions})
    if not wanted:
        raise ValueError("no frame positions requested")
    if wanted[-1] >= table.count or wanted[0] < 0:
        raise ValueError(f"frame positions {wanted[0]}..{wanted[-1]} outside 0..{table.count - 1}")
    sequential = DecodePlan("sequential", ((0, tuple(wanted)),), wanted[-1] + 1)
    if strategy == "sequential" or table.pts is None or len(table.keyframes) == 1:
        return sequential
    groups: dict[int, list[int]] = {}
    for position in wanted:
        groups.setdefault(table.keyframe_before(position), []).append(position)
    segments = tuple((start, tuple(members)) for start, members in sorted(groups.items()))
    seek_cost = sum(members[-1] - start + 1 + SEEK_COST_FRAMES for start, members in segments)
    seek = DecodePlan("seek", segments, seek_cost)
    if strategy == "seek":
        return seek
    if strategy != "auto":
        raise ValueError(f"unknown decode strategy '{strategy}' (known: auto, sequential, seek)")
    return seek if seek.frames_decoded < sequential.frames_decoded else sequential


def iter_frames(path: str | os.PathLike[str]) -> Iterator[av.VideoFrame]:
    """Every decoded frame of the first video stream, in presentation order.

    A frame is only valid while the iteration is under way; convert (and copy) what must outlive it.
    """
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from container.decode(stream)


def decode_all(path: str | os.PathLike[str]) -> np.ndarray:
    """Every frame as RGB uint8 (T, H, W, 3), unrotated: the reference full decode that tests compare to."""
    return np.stack([_owned(frame.to_ndarray(format="rgb24")) for frame in iter_frames(path)])


def read_frames(
    path: str | os.PathLike[str],
    positions: Sequence[int],
    transform: FrameTransform | None = None,
    *,
    table: FrameTable | None = None,
    strategy: str = "auto",
    apply_rotation: bool = True,
) -> np.ndarray:
    """Decode the frames at ``positions`` (any order, repeats allowed), exactly, holding only those.

    ``transform(frame, rotation)`` turns a decoded frame into the array to keep (default: full-size RGB,
    rotated for display as the file's display matrix says); scaling inside it means a full-size frame
    never outlives its decode step. Positions past the end of the stream repeat the last frame.
    """
    wanted = np.asarray(positions, dtype=np.int64)
    if wanted.size == 0:
        raise ValueError("no frame positions requested")
    table = table or frame_table(path)
    clipped = np.minimum(wanted, table.count - 1)
    transform = transform or rgb_frame
    plan = plan_decode(table, clipped, strategy=strategy)
    kept = _decode_plan(path, table, plan, transform, apply_rotation)
    missing = sorted(set(int(p) for p in clipped) - set(kept))
    if missing:
        if not kept:
            raise DecodeError(path, "no decodable video frame")
        # A stream that breaks before some wanted frame: use the nearest earlier decoded frame.
        log.warning("%s: %d wanted frame(s) not decodable (first: %d); using nearest earlier", path, len(missing), missing[0])
        available = np.array(sorted(kept))
        for position in missing:
            earlier = available[available <= position]
            kept[position] = kept[int(earlier[-1] if earlier.size else available[0])]
    return np.stack([kept[int(p)] for p in clipped])


def rgb_frame(frame: av.VideoFrame, rotation: int) -> np.ndarray:
    """Full-size RGB uint8, rotated to display orientation."""
    return rotate(frame.to_ndarray(format="rgb24"), rotation)


def rotate(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate counter-clockwise by ``rotation`` degrees (a multiple of 90), as players do for display."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k=k)) if k else rgb


def _decode_plan(
    path: str | os.PathLike[str], table: FrameTable, plan: DecodePlan, transform: FrameTransform, apply_rotation: bool
) -> dict[int, np.ndarray]:
    kept: dict[int, np.ndarray] = {}
    try:
        with av.open(os.fspath(path)) as container:
            stream = container.streams.video[0]
            for start, members in plan.segments:
                if plan.strategy == "seek":
                    container.seek(int(table.pts[start]), stream=stream, backward=True, any_frame=False)
                kept.update(_decode_segment(container, stream, table, members, transform, apply_rotation))
    except (av.error.FFmpegError, OSError) as exc:
        if not kept:
            raise DecodeError(path, f"decoding failed ({type(exc).__name__}: {exc})") from None
        log.warning("%s: decoding stopped early (%s)", path, exc)
    return kept


def _decode_segment(container, stream, table: FrameTable, members: tuple[int, ...], transform: FrameTransform, apply_rotation: bool) -> dict[int, np.ndarray]:
    """Decode from the current position until every member is kept; skip unneeded non-reference frames."""
    context = stream.codec_context
    out: dict[int, np.ndarray] = {}
    if table.pts is None:
        wanted_pts = {position: position for position in members}
    else:
        wanted_pts = {int(table.pts[position]): position for position in members}
    last_pts = max(wanted_pts)
    bad_packets = 0
    packets_past_last = 0
    position = -1  # decode position, used only for streams without timestamps
    for packet in container.demux(stream):
        key = packet.pts if table.pts is not None else None
        # Non-reference frames nobody asked for can go undecoded: no other frame depends on them.
        context.skip_frame = "DEFAULT" if packet.size == 0 or key is None or key in wanted_pts else "NONREF"
        try:
            frames = context.decode(packet)
            bad_packets = 0
        except av.error.InvalidDataError:
            bad_packets += 1
            if bad_packets > MAX_BAD_PACKETS:
                raise
            continue
        for frame in frames:
            position += 1
            frame_key = frame.pts if table.pts is not None else position
            if frame_key in wanted_pts and wanted_pts[frame_key] not in out:
                rotation = _rotation(frame) if apply_rotation else 0
                out[wanted_pts[frame_key]] = _owned(transform(frame, rotation))
        if len(out) == len(wanted_pts):
            break
        # A wanted frame can still come out after its packet (B-frame reordering, at most 16 deep in
        # H.264); past that, it is not in the stream, and reading on would only waste the decoder's time.
        if key is not None and key > last_pts:
            packets_past_last += 1
            if packets_past_last > REORDER_DEPTH:
                break
    context.skip_frame = "DEFAULT"
    return out


def _owned(array: np.ndarray) -> np.ndarray:
    """A copy unless ``array`` owns its memory.

    ``to_ndarray`` can return a view of a buffer that FFmpeg's frame pool reuses or frees once the
    container closes; a kept frame must not depend on it.
    """
    return array if array.flags.owndata else array.copy()


def _rotation(frame: av.VideoFrame) -> int:
    degrees = int(round(getattr(frame, "rotation", 0) or 0))
    return (round(degrees / 90) * 90) % 360


def _duration_seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0
