"""Throughput of the feature extractor per CPU core, against the straightforward scipy.ndimage version.

Run: ``python benchmarks/bench_features.py``. Both paths run in this process, single-threaded (BLAS and
OpenMP pools pinned to one thread), on the same synthetic clips, alternating so that load on the machine
affects both alike. Reported: frames/s of

- the handcrafted forensic features, fused path (``fvc.features.handcrafted.clip_features``) and its
  reference (``fvc.features.reference.reference_clip_features``), with the speed-up;
- the whole per-clip extractor the features rule runs (handcrafted + HOG/LBP/colour image features).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from fvc.features.handcrafted import clip_features
from fvc.features.image import image_features
from fvc.features.reference import reference_clip_features


def full_extractor(clip: np.ndarray) -> dict[str, float]:
    return {**clip_features(clip), **image_features(clip)}


def frames_per_second(fn: Callable[[np.ndarray], object], clips: list[np.ndarray], seconds: float) -> float:
    fn(clips[0])  # warm-up: imports, FFT plans, allocator
    frames, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for clip in clips:
            fn(clip)
            frames += len(clip)
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[112, 224])
    parser.add_argument("--frames", type=int, default=8, help="frames per clip")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    print(f"{'size':>6s} {'path':34s} {'frames/s/core':>14s}")
    with threadpool_limits(limits=1):
        for size in args.sizes:
            clips = [rng.integers(0, 256, (args.frames, size, size, 3), dtype=np.uint8) for _ in range(4)]
            results: dict[str, list[float]] = {"handcrafted, reference (scipy.ndimage)": [], "handcrafted, fused": [],
                                               "full extractor (handcrafted + image)": []}  # fmt: skip
            fns = [reference_clip_features, clip_features, full_extractor]
            for _ in range(args.rounds):
                for (name, values), fn in zip(results.items(), fns, strict=True):
                    values.append(frames_per_second(fn, clips, args.seconds))
            medians = {name: float(np.median(v)) for name, v in results.items()}
            for name, value in medians.items():
                print(f"{size:>4d}^2 {name:34s} {value:14.0f}")
            ratio = medians["handcrafted, fused"] / medians["handcrafted, reference (scipy.ndimage)"]
            print(f"{size:>4d}^2 {'speed-up fused / reference':34s} {ratio:13.2f}x")


if __name__ == "__main__":
    main()
