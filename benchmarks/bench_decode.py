"""Sampled clip extraction vs full decoding, and the clips stage's memory as the corpus grows.

Run: ``python benchmarks/bench_decode.py`` (about a minute on 2 cores). Prints two tables:

1. For N synthetic H.264 videos (default 20 x 300 frames, 640x360, keyframe every 30 frames), the time to
   get a 16-frame clip per video with ``fvc.io.video.read_frames`` against the baseline every naive
   pipeline starts from, decoding the whole file to RGB and picking the frames (seed 004's "load entire
   video"), both run in this process on the same files; and each approach's peak RSS, measured in a
   fresh child process so the numbers do not mix.
2. Peak RSS of ``fvc.data.clips.extract_shard`` (the clips rule's work) for 10 and 200 videos, each in a
   fresh child process: flat memory means the ratio stays near 1.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fvc.data.clips import extract_shard
from fvc.data.index import build_index
from fvc.data.recipe import ClipRecipe
from fvc.data.sources import discover_folder
from fvc.io.encode import write_video
from fvc.io.video import decode_all, frame_table, read_frames, sample_indices


def make_videos(folder: Path, count: int, frames: int, width: int, height: int, gop: int) -> list[Path]:
    """Panning textured scenes with noise: realistic motion and residuals for the encoder."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        label = "real" if i % 2 else "fake"
        path = folder / label / f"v{i:04d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        texture = (rng.random((height // 8 + 40, width // 8 + 80, 3)) * 255).astype(np.uint8)
        texture = texture.repeat(8, axis=0).repeat(8, axis=1)

        def scene(texture=texture):
            for t in range(frames):
                y, x = t % 40, (2 * t) % 80
                yield texture[y : y + height, x : x + width]

        write_video(path, scene(), fps=30, gop=gop)
        paths.append(path)
    return paths


def full_decode_clip(path: Path, num: int) -> np.ndarray:
    everything = decode_all(path)
    return everything[sample_indices(len(everything), num)]


def sampled_clip(path: Path, num: int) -> np.ndarray:
    return read_frames(path, sample_indices(frame_table(path).count, num))


def child(task: str, args: list[str]) -> None:
    """Run one task in this (fresh) process and print its peak RSS in MiB as JSON."""
    if task in ("full", "sampled"):
        paths, num = [Path(p) for p in args[1:]], int(args[0])
        fn = full_decode_clip if task == "full" else sampled_clip
        for path in paths:
            fn(path, num)
    elif task == "clips":
        data, out, limit = Path(args[0]), Path(args[1]), int(args[2])
        videos = build_index(*discover_folder(data)).videos.head(limit)
        extract_shard(videos, 0, 1, ClipRecipe("bench", frames=16, size=112, scaling="fixed"), out)
    print(json.dumps({"peak_rss_mib": _vm_hwm_mib()}))


def _vm_hwm_mib() -> float:
    # VmHWM is this address space's own high-water mark. ru_maxrss would not do: Linux carries the
    # parent's peak into a child across fork/exec, so every child would report the parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss(task: str, *args: object) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", task, *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--gop", type=int, default=30)
    parser.add_argument("--sample", type=int, default=16)
    parser.add_argument("--memory-videos", type=int, nargs=2, default=(10, 200), metavar=("SMALL", "LARGE"))
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1:])
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_videos(tmp / "speed", args.videos, args.frames, args.width, args.height, args.gop)
        for path in paths[:2]:  # warm the page cache and the decoder libraries for both sides alike
            full_decode_clip(path, args.sample), sampled_clip(path, args.sample)
        timings = {}
        for name, fn in (("full decode, then pick", full_decode_clip), ("fvc sampled decode", sampled_clip)):
            start = time.perf_counter()
            for path in paths:
                clip = fn(path, args.sample)
            timings[name] = time.perf_counter() - start
            assert clip.shape[0] == args.sample
        base, ours = timings["full decode, then pick"], timings["fvc sampled decode"]
        rss_full = peak_rss("full", args.sample, *paths)
        rss_sampled = peak_rss("sampled", args.sample, *paths)
        n = len(paths)
        print(f"\n{n} videos x {args.frames} frames {args.width}x{args.height} H.264 (GOP {args.gop}), {args.sample}-frame clips")
        print(f"{'method':26s} {'s/video':>9s} {'clips/s':>8s} {'source frames/s':>16s} {'peak RSS MiB':>13s}")
        for name, seconds, rss in (("full decode, then pick", base, rss_full), ("fvc sampled decode", ours, rss_sampled)):
            print(f"{name:26s} {seconds / n:9.4f} {n / seconds:8.1f} {n * args.frames / seconds:16.0f} {rss:13.0f}")
        print(f"speed-up (full / sampled): {base / ours:.2f}x")

        small, large = args.memory_videos
        make_videos(tmp / "memory", large, 64, 320, 240, 32)
        rss_small = peak_rss("clips", tmp / "memory", tmp / "clips_small", small)
        rss_large = peak_rss("clips", tmp / "memory", tmp / "clips_large", large)
        print("\nclips stage (16 frames, 112x112 fixed) on 64-frame 320x240 videos, peak RSS of a fresh process")
        print(f"{small:5d} videos: {rss_small:7.0f} MiB")
        print(f"{large:5d} videos: {rss_large:7.0f} MiB")
        print(f"ratio ({large} / {small}): {rss_large / rss_small:.3f}")


if __name__ == "__main__":
    main()
