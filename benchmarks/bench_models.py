"""Size and cost of every torch model: parameters, GFLOPs per clip, CPU training-step time.

Run: ``python benchmarks/bench_models.py [--models ...] [--skip-paper]``. Each model is measured at its
CPU default (the clip geometry of the default config) and at a paper-sized configuration, in this process:
FLOPs from ``torch.utils.flop_counter`` (forward pass, one clip; multiply-adds count as 2 FLOPs), step time
as the median of a few forward+backward passes on a batch of 2 clips after one warm-up step.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from fvc.models import create, get_spec
from fvc.models.registry import model_kwargs

# (frames, size, extra builder params) per model: the CPU default and a paper-sized setting.
CONFIGS = {
    "naive_cnn": [("default", 6, 96, {}), ("paper", 16, 224, {})],
    "vit_gru": [("default", 6, 96, {}), ("paper ViT-B/16", 16, 224, {"vit": "vit_base_patch16_224"})],
    "vit_transformer": [("default", 6, 96, {}), ("paper ViT-B/16", 16, 224, {"vit": "vit_base_patch16_224"})],
    "transfer": [("default resnet18", 6, 96, {}), ("resnet50", 16, 224, {"backbone": "resnet50"})],
    "slowfast": [("embedded R18", 8, 64, {"model_depth": 18}), ("paper R50 4x16", 32, 224, {"model_depth": 50})],
    "x3d": [("default", 8, 64, {}), ("paper X3D-M", 16, 224, {})],
    "r3d": [("default", 8, 64, {}), ("paper", 16, 112, {})],
    "r2plus1d": [("default", 8, 64, {}), ("paper", 16, 112, {})],
    "variable_ar_cnn": [("default", 8, 96, {}), ("256x144 letterbox", 16, 256, {})],
}


def clip_shape(name: str, frames: int, size: int, batch: int) -> tuple[int, ...]:
    height, width = (size, size) if name != "variable_ar_cnn" or size < 256 else (144, 256)
    if get_spec(name).input == "clip":
        return (batch, 3, frames, height, width)
    return (batch, frames, 3, height, width)


def measure(name: str, frames: int, size: int, extra: dict, steps: int) -> tuple[float, float, float]:
    torch.manual_seed(0)
    # Step time does not depend on the starting weights: scratch, so the benchmark needs no weights cache.
    model = create(name, **model_kwargs(name, {"pretrained": False, **extra}, {"frames": frames, "size": size}))
    if hasattr(model, "on_epoch_start"):
        model.on_epoch_start(10**6)  # everything trainable
    params = sum(p.numel() for p in model.parameters()) / 1e6
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(*clip_shape(name, frames, size, 1)))
    gflops = counter.get_total_flops() / 1e9
    model.train()
    x = torch.randn(*clip_shape(name, frames, size, 2))
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        model(x).sum().backward()
        if i:  # the first step pays for allocation and kernel selection
            times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    return params, gflops, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(CONFIGS))
    parser.add_argument("--skip-paper", action="store_true", help="only the CPU defaults")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"{'model':17s} {'config':20s} {'clip':>11s} {'params M':>9s} {'GFLOPs':>9s} {'CPU step s (batch 2)':>21s}")
    for name in args.models:
        for label, frames, size, extra in CONFIGS[name]:
            if args.skip_paper and label != CONFIGS[name][0][0]:
                continue
            params, gflops, step = measure(name, frames, size, extra, args.steps)
            print(f"{name:17s} {label:20s} {f'{frames}x{size}':>11s} {params:9.2f} {gflops:9.2f} {step:21.3f}", flush=True)


if __name__ == "__main__":
    main()
