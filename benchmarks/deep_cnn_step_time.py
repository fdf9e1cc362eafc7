"""CPU training-step time of seed 003's image CNNs (deep_v1, deep_v2) against naive_cnn, in one process.

Run: ``python benchmarks/deep_cnn_step_time.py [--threads 2] [--steps 10] [--json out.json]``. Two inputs: a batch
of 16 clips of the default ``frames`` clipset (4 frames of 32x32) and a batch of 16 single 224x224 images
(1-frame clips). A step is forward + cross-entropy + backward + AdamW update in training mode; the time is
the median of ``--steps`` steps after ``--warmup`` warm-up steps, as wall time and as the process's CPU time
(all threads; it barely moves when other processes compete for the cores, where wall time does). Also
printed: parameters and forward GFLOPs per clip (``torch.utils.flop_counter``, multiply-adds count 2), and
each step time as a multiple of naive_cnn's on the same input.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from fvc.models import create

VARIANTS = [
    ("naive_cnn", {}),
    ("deep_v1", {"variant": "plain"}),
    ("deep_v1", {"variant": "residual"}),
    ("deep_v2", {"architecture": "resnet"}),
    ("deep_v2", {"architecture": "densenet"}),
    ("deep_v2", {"architecture": "hybrid"}),
]
INPUTS = {"16 x 4x32x32": (16, 4, 3, 32, 32), "16 x 1x224x224": (16, 1, 3, 224, 224)}


def label(name: str, params: dict) -> str:
    return f"{name}:{next(iter(params.values()))}" if params else name


def measure(name: str, params: dict, shape: tuple[int, ...], warmup: int, steps: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = create(name, **params)
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *shape[1:]))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(*shape)
    y = torch.arange(shape[0]) % 2
    times, cpu = [], []
    for i in range(warmup + steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return {"params_m": n_params, "gflops_per_clip": counter.get_total_flops() / 1e9, "step_s": statistics.median(times),
            "step_s_min": min(times), "step_s_max": max(times), "cpu_s": statistics.median(cpu)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--inputs", nargs="+", choices=list(INPUTS), default=list(INPUTS))
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, median of {args.steps} steps after {args.warmup}")
    results = []
    for input_name in args.inputs:
        shape = INPUTS[input_name]
        print(f"\nbatch {input_name} (B, T, C, H, W = {shape})")
        print(f"{'model':20s} {'params M':>9s} {'GFLOPs/clip':>12s} {'step s':>8s} {'min-max':>13s} {'x naive_cnn':>12s} "
              f"{'CPU s':>8s} {'x naive_cnn':>12s}")  # fmt: skip
        naive = None
        for name, params in VARIANTS:
            row = measure(name, params, shape, args.warmup, args.steps)
            naive = naive or row
            row.update(model=label(name, params), input=input_name, ratio=row["step_s"] / naive["step_s"], cpu_ratio=row["cpu_s"] / naive["cpu_s"])
            results.append(row)
            print(f"{row['model']:20s} {row['params_m']:9.2f} {row['gflops_per_clip']:12.3f} {row['step_s']:8.3f} "
                  f"{row['step_s_min']:6.3f}-{row['step_s_max']:<6.3f} {row['ratio']:12.2f} {row['cpu_s']:8.3f} {row['cpu_ratio']:12.2f}",
                  flush=True)  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
