"""Probe and exact sampled decoding of videos and still images with PyAV.

Frames are addressed by their position in presentation order, identified through packet timestamps
(pts), never by ``index / fps`` arithmetic: that is what keeps variable-frame-rate files and streams whose
header lies about their length exact. A demux pass (no decoding) builds the :class:`FrameTable`; a
per-video plan then decides between seeking to the keyframe before each wanted group of frames and one
sequential pass, whichever decodes fewer frames. Either way only the kept frames are held, and packets
that nothing needs (non-reference frames that are not wanted) are skipped by the decoder.

Still images (PNG/JPEG/...) open through FFmpeg's image demuxers and come out as 1-frame videos, so the
rest of the workflow never branches on the file type.

Every file is opened through :func:`open_media`, which reads that one regular file and nothing else.
FFmpeg can follow indirections (HLS playlists, ffconcat lists, image-sequence patterns, protocols such as
``concat:`` or ``subfile,``), so a small text file inside the data root could otherwise make fvc decode,
train on and predict files anywhere on the machine. ``open_media`` refuses non-regular files (a FIFO would
block the open), allows only the ``file`` protocol, and only the demuxers in :data:`ACCEPTED_FORMATS`;
FFmpeg checks that list after probing and before the demuxer reads its header, so a playlist's segments are
never opened. It also caps the picture size at :data:`MAX_PIXELS` before any frame is decoded.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import warnings
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
    "ACCEPTED_FORMATS",
    "MAX_PIXELS",
    "decode_all",
    "frame_table",
    "iter_frames",
    "open_media",
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
# Earlier keyframes tried when a seek lands past the keyframe it aimed at (MPEG-TS/PS seek by a timestamp
# search that is blind to keyframes); after that, the frames are decoded in one pass from the start.
SEEK_RETRIES = 2

# FFmpeg demuxers fvc reads, as FFmpeg names them (checked against VIDEO_SUFFIXES and IMAGE_SUFFIXES files
# written by PyAV 18 / FFmpeg 8: .jpg/.jpeg open as "image2", other stills as "<codec>_pipe"). Anything else
# is refused: hls and concat read the files their text names, image2 patterns read numbered files, and
# exotic demuxers are attack surface nobody needs for a video corpus.
ACCEPTED_FORMATS = frozenset({
    "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "mpegts", "mpeg", "flv", "asf",
    "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "image2",
})  # fmt: skip
IMAGE_FORMATS = frozenset({"png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "image2"})
# Pixels per frame above which a file is refused before decoding. 40 M covers 8K UHD video (7680x4320 =
# 33.2 M) and common camera stills (up to ~40 MP) while bounding one decoded frame to ~120 MB as RGB (plus
# the decoder's own YUV copy): a 16000x16000 PNG would need 768 MB for one frame, per worker.
MAX_PIXELS = 40_000_000

# FFmpeg's own gate, applied inside avformat_open_input after probing and before the demuxer reads its header
# (so an HLS playlist's segments are never opened). It matches comma-separated names token by token.
_FORMAT_WHITELIST = ",".join(sorted(ACCEPTED_FORMATS))
_CONTAINER_OPTIONS = {
    "protocol_whitelist": "file",  # no concat:, subfile:, http:, crypto: ... for this file or any it names
    "format_whitelist": _FORMAT_WHITELIST,
    "pattern_type": "none",  # image2: the named file only, never "%d" sequences or globs
}
# Codec option: decoders (also the ones avformat_find_stream_info runs while opening) refuse larger frames
# instead of allocating them.
_CODEC_OPTIONS = {"max_pixels": str(MAX_PIXELS)}

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
    after a valid header) at index time, before any model depends on them. The file is opened with
    :func:`open_media`'s restrictions (regular file, accepted container, at most :data:`MAX_PIXELS`).
    """
    path = Path(path)
    try:
        with open_media(path) as container:
            size = os.stat(path).st_size
            stream = container.streams.video[0]
            is_image = path.suffix.lower() in IMAGE_SUFFIXES or container.format.name in IMAGE_FORMATS
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


def open_media(path: str | os.PathLike[str]) -> av.container.InputContainer:
    """Open ``path`` for decoding, restricted to that one regular file; :class:`DecodeError` otherwise.

    The only place fvc opens media for reading (use it as a context manager). Refused, each with a reason:
    anything but a regular file (checked with ``stat``, which never blocks, whereas opening a FIFO waits
    for a writer), empty files, container formats outside :data:`ACCEPTED_FORMATS` (FFmpeg refuses them
    before their header is read, so a playlist's segments are never opened), image2 patterns, files without
    a video stream, and frames above :data:`MAX_PIXELS`, checked from the stream parameters before a frame
    is decoded.
    """
    # Absolute: a relative name such as "concat:a|b" or "subfile,,...:x" would otherwise parse as a protocol.
    name = os.path.abspath(os.fspath(path))
    try:
        info = os.stat(name)
    except OSError as exc:
        raise DecodeError(path, f"cannot stat file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise DecodeError(path, f"not a regular file ({_file_kind(info.st_mode)})")
    if info.st_size == 0:
        raise DecodeError(path, "empty file (0 bytes)")
    try:
        container = av.open(name, options=_CODEC_OPTIONS, container_options=_CONTAINER_OPTIONS)
    except av.error.ArgumentError as exc:
        # EINVAL from avformat_open_input is how format_whitelist refuses a demuxer; FFmpeg does not say
        # which one (its log is off), so name the indirection formats from their text signature.
        found = _sniff_indirection(name)
        if found is None:
            raise DecodeError(path, f"container format not accepted or header invalid ({type(exc).__name__}: {exc}; "
                                    "fvc reads only the formats in ACCEPTED_FORMATS)") from None  # fmt: skip
        reason = f"container format '{found}' is not accepted (playlist/concat/protocol formats read other files)"
        raise DecodeError(path, reason) from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise DecodeError(path, f"unreadable media ({type(exc).__name__}: {exc})") from None
    try:
        _check_opened(path, name, container)
    except BaseException:
        container.close()
        raise
    return container


def _check_opened(path: str | os.PathLike[str], name: str, container: av.container.InputContainer) -> None:
    fmt = container.format.name
    # The whitelist already ran inside FFmpeg; checking the exact name again costs nothing and does not
    # depend on FFmpeg's token matching or on the option being honoured by every FFmpeg build.
    if fmt not in ACCEPTED_FORMATS:
        raise DecodeError(path, f"container format '{fmt}' is not accepted (playlist/concat/protocol formats read other files)")
    if fmt == "image2" and "%" in os.path.basename(name):
        raise DecodeError(path, "image2 file name with '%' is not accepted (it would read a numbered image sequence)")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise DecodeError(path, f"no video stream (streams: {', '.join(kinds)})")
    stream = container.streams.video[0]
    context = stream.codec_context
    width, height = (context.width, context.height) if context is not None else (0, 0)
    if not width * height and fmt in IMAGE_FORMATS:
        # A still's size is only known once decoded, and the opening decode stops at max_pixels: read the
        # size from the image header instead (Pillow parses headers without decoding pixels).
        width, height = _image_header_size(path, name)
    if width * height > MAX_PIXELS:
        raise DecodeError(path, f"frame of {width}x{height} = {width * height / 1e6:.1f} M pixels exceeds the limit of "
                                f"{MAX_PIXELS / 1e6:.0f} M (MAX_PIXELS)")  # fmt: skip
    for video in container.streams.video:
        if video.codec_context is not None:
            # Also while decoding: a stream can switch to a larger size after its first frame.
            video.codec_context.options = {**video.codec_context.options, **_CODEC_OPTIONS}


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def _sniff_indirection(name: str) -> str | None:
    """The indirection format a file's first bytes announce, for the refusal message only."""
    try:
        with open(name, "rb") as handle:  # a regular file: open_media checked before FFmpeg saw it
            head = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return None
    if head.startswith(b"#EXTM3U"):
        return "hls"
    if head.startswith(b"ffconcat version"):
        return "concat"
    return None


def _image_header_size(path: str | os.PathLike[str], name: str) -> tuple[int, int]:
    """A still's size from its header (Pillow parses headers without decoding pixels); (0, 0) if unknown."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is what is being checked
            with Image.open(name) as image:
                return image.size
    except Image.DecompressionBombError as exc:
        # Pillow's own limit (far above MAX_PIXELS) stops it before it reports the size; its message has the count.
        count = re.search(r"\((\d+) pixels\)", str(exc))
        what = f"image of {int(count.group(1)) / 1e6:.1f} M pixels" if count else "image"
        raise DecodeError(path, f"{what} exceeds the limit of {MAX_PIXELS / 1e6:.0f} M (MAX_PIXELS)") from None
    except (OSError, ValueError, SyntaxError):  # not an image Pillow knows: decoding decides
        return (0, 0)


def frame_table(path: str | os.PathLike[str]) -> FrameTable:
    """Demux (without decoding) the first video stream: the true frame count, pts and keyframes.

    Packets the container indexes but the file no longer holds (a truncated file) end the table where the
    data ends, so the count is what can really be decoded, whatever the header says.
    """
    pts: list[int | None] = []
    keys: list[bool] = []
    try:
        with open_media(path) as container:
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
    with open_media(path) as container:
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
    substituted: list[int] | None = None,
) -> np.ndarray:
    """Decode the frames at ``positions`` (any order, repeats allowed), exactly, holding only those.

    ``transform(frame, rotation)`` turns a decoded frame into the array to keep (default: full-size RGB,
    rotated for display as the file's display matrix says); scaling inside it means a full-size frame
    never outlives its decode step. Positions past the end of the stream repeat the last frame.

    A wanted frame the stream holds but that cannot be decoded (a damaged stretch) is replaced by the
    nearest earlier decoded frame; pass a list as ``substituted`` to receive those positions (sorted,
    unique, clipped to the stream), so a caller can tell a clip of copies from a real one. Frames of
    different sizes (a stream that changes resolution, with a transform that keeps native size) raise
    :class:`DecodeError`: a transform with a fixed output geometry avoids that.
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
    if substituted is not None:
        substituted.extend(missing)
    shapes = sorted({kept[int(p)].shape for p in clipped})
    if len(shapes) > 1:
        raise DecodeError(path, f"frame size changes within the stream ({' vs '.join(str(s) for s in shapes)}); "
                                "a fixed-geometry transform is needed")  # fmt: skip
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
        with open_media(path) as container:
            stream = container.streams.video[0]
            for start, members in plan.segments:
                if plan.strategy == "seek":
                    kept.update(_seek_segment(container, stream, table, start, members, transform, apply_rotation))
                else:
                    kept.update(_decode_segment(container, stream, table, members, transform, apply_rotation))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        # ValueError: also what a transform raises on a frame it cannot convert (an unsupported pixel format).
        if not kept and plan.strategy != "seek":
            raise DecodeError(path, f"decoding failed ({type(exc).__name__}: {exc})") from None
        log.warning("%s: decoding stopped early (%s)", path, exc)
    if plan.strategy == "seek":
        missing = tuple(sorted({p for _, members in plan.segments for p in members} - set(kept)))
        if missing:
            # A seek that could not reach its keyframe (or a seek that failed) must not cost the frames: one
            # pass from the start reaches every frame the stream can decode, and is exact.
            log.debug("%s: %d frame(s) not reached by seeking; decoding them from the start", path, len(missing))
            fallback = DecodePlan("sequential", ((0, missing),), missing[-1] + 1)
            try:
                kept.update(_decode_plan(path, table, fallback, transform, apply_rotation))
            except DecodeError:
                if not kept:
                    raise
    return kept


def _seek_segment(
    container, stream, table: FrameTable, start: int, members: tuple[int, ...], transform: FrameTransform, apply_rotation: bool
) -> dict[int, np.ndarray]:
    """Seek to keyframe ``start`` and decode ``members``; {} when no seek reaches it (the caller falls back).

    Containers without a keyframe index (MPEG-TS/PS) seek by a timestamp search that lands on whatever
    packet it finds, often just past the keyframe (its dts is below its pts). Decoding only ever begins at
    a keyframe packet at or before ``start``: from a later one the wanted frames are gone, from a
    non-keyframe the decoder would lack references. If the landing is past ``start``, aim at an earlier
    keyframe (up to :data:`SEEK_RETRIES` times).
    """
    index = int(np.searchsorted(table.keyframes, start))
    for back in range(SEEK_RETRIES + 1):
        entry = int(table.keyframes[max(index - back, 0)])
        container.seek(int(table.pts[entry]), stream=stream, backward=True, any_frame=False)
        out = _decode_segment(container, stream, table, members, transform, apply_rotation, enter_by=int(table.pts[start]))
        if out is not None:
            return out
        if entry == 0:
            break
    return {}


def _decode_segment(
    container,
    stream,
    table: FrameTable,
    members: tuple[int, ...],
    transform: FrameTransform,
    apply_rotation: bool,
    *,
    enter_by: int | None = None,
) -> dict[int, np.ndarray] | None:
    """Decode from the current position until every member is kept; skip unneeded non-reference frames.

    With ``enter_by`` (after a seek), packets are dropped until a keyframe; None when that keyframe comes
    after pts ``enter_by`` or none comes before the members are past (the seek overshot).
    """
    context = stream.codec_context
    out: dict[int, np.ndarray] = {}
    if table.pts is None:
        wanted_pts = {position: position for position in members}
    else:
        wanted_pts = {int(table.pts[position]): position for position in members}
    last_pts = max(wanted_pts)
    bad_packets = 0
    packets_past_last = 0
    entered = enter_by is None
    position = -1  # decode position, used only for streams without timestamps
    for packet in container.demux(stream):
        key = packet.pts if table.pts is not None else None
        if not entered:
            if packet.size and packet.is_keyframe and key is not None:
                if key > enter_by:
                    return None
                entered, packets_past_last = True, 0
            else:
                if key is not None and key > last_pts:
                    packets_past_last += 1
                    if packets_past_last > REORDER_DEPTH:
                        return None
                if packet.size:
                    continue
                return None  # end of stream before any keyframe
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
