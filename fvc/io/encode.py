"""Video and still-image encoding with PyAV (bundled FFmpeg, libx264)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from fvc.io.atomic import atomic_path

__all__ = ["X264_REPRODUCIBLE", "write_image", "write_video"]

# x264's hand-written SIMD (AVX-512 paths seen here) reads uninitialised memory: the same frames then
# encode to different bytes from run to run and from CPU to CPU. The C paths are bit-reproducible, at
# about 2.3x the encoding time, which the small synthetic and augmentation encodes can afford.
X264_REPRODUCIBLE = "asm=0"


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    fps: int = 16,
    crf: int = 23,
    preset: str = "veryfast",
    codec: str = "libx264",
    gop: int | None = None,
) -> int:
    """Encode RGB uint8 frames of shape (H, W, 3) to an H.264 mp4, atomically. Returns the frame count.

    ``gop`` fixes the keyframe interval (default: x264's, up to 250 frames). Width and height must be even (yuv420p). Encoding runs single-threaded on x264's C paths so that the
    same frames give the same bytes on any machine, which the synthetic corpus's determinism relies on.
    """
    target = Path(path)
    count = 0
    with atomic_path(target) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream(codec, rate=Fraction(fps))
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = Fraction(1, fps)
            stream.options = {"crf": str(crf), "preset": preset, "threads": "1", "x264-params": X264_REPRODUCIBLE}
            if gop is not None:
                stream.options = {**stream.options, "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
            stream.thread_count = 1
            for rgb in frames:
                if count == 0:
                    height, width = rgb.shape[:2]
                    if width % 2 or height % 2:
                        raise ValueError(f"{target}: H.264 yuv420p needs even sizes, got {width}x{height}")
                    stream.width, stream.height = width, height
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb, dtype=np.uint8), format="rgb24")
                frame.pts = count
                container.mux(stream.encode(frame))
                count += 1
            if count == 0:
                raise ValueError(f"{target}: no frames to encode")
            container.mux(stream.encode(None))
    return count


def write_image(path: str | os.PathLike[str], rgb: np.ndarray, *, quality: int = 95) -> None:
    """Write one RGB uint8 frame as PNG or JPEG (by suffix), atomically."""
    target = Path(path)
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), mode="RGB")
    with atomic_path(target) as tmp:
        if target.suffix.lower() in {".jpg", ".jpeg"}:
            image.save(tmp, format="JPEG", quality=quality)
        else:
            image.save(tmp, format="PNG")
