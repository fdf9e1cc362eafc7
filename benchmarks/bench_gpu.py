"""The training engine on CUDA: throughput fp32 vs AMP, a real train() run with resume, and OOM back-off.

Run: ``python benchmarks/bench_gpu.py`` on a CUDA machine (about 100 s on one H200), or
``python benchmarks/bench_gpu.py --smoke`` anywhere (tiny sizes, one step each: checks the script itself).
Results go to stdout as tables and JSON, and to ``$OUT/bench_gpu.json`` (or ``--json PATH``) after every
section, so a run cut short still leaves what it measured. Every section and every model is wrapped: one
failure prints its traceback, is recorded under ``errors`` and the rest goes on.

Sections:

1. ``env``: torch, CUDA, GPU, bf16 support, TF32 and cuDNN settings as the engine finds them.
2. ``throughput``: per model (built as a fold builds it: the registry's builder with ``model_kwargs`` shaped
   by the clip), synthetic clips already on the GPU, run through the engine's own training loop,
   ``fvc.train.engine.train_epoch`` (the loop ``train()`` runs every epoch: autocast, the class-weighted loss,
   the scaler, ``float(loss)`` per step, clipping, AdamW from ``engine.make_optimizer``), given that one batch
   ``warmup + steps`` times; its ``on_step`` hook times each step. Five modes: ``fp32``; ``amp`` (the engine's
   AMP dtype, bf16 on Hopper); ``amp_det``: AMP under ``torch.use_deterministic_algorithms(True, warn_only=True)``,
   which is what ``fvc.learners.torch_fit`` sets for every workflow job; ``fp32_bm`` and ``amp_bm``: the same with
   ``torch.backends.cudnn.benchmark = True`` (the engine leaves it off). Clips/s (median of timed steps after
   warm-up, ``torch.cuda.synchronize`` at each step's end), peak allocated memory, and the ratios AMP/fp32 and
   deterministic/AMP, measured in the same process. Then one short epoch of ``fvc.train.engine.train`` with AMP
   on ``.npy`` clips through the real ``ClipDataset`` (finite loss, peak memory from history).
3. ``engine``: ``train()`` for 2 epochs with AMP (``--engine-model``, default transfer/resnet18),
   uninterrupted vs stopped after epoch 0 and resumed from its checkpoint (read back with
   ``fvc.train.checkpoint.load_checkpoint``); max abs weight difference, history difference; once with the
   default CUDA settings, once with the workflow's deterministic-algorithms setting (warnings recorded).
4. ``oom``: ``train()`` (``--oom-model``, default r3d) with a batch that cannot fit under a memory cap
   (``torch.cuda.set_per_process_memory_fraction``): the engine must halve the batch and double
   accumulation until it fits; back-off messages, the final ``BatchPlan`` and whether it is the one
   ``fvc.train.oom.BatchPlan.halved`` plans for that many back-offs. On CPU the model raises
   ``torch.cuda.OutOfMemoryError`` above a batch size (a stand-in for the allocator); the back-off is the engine's.

The benchmark holds no copy of the engine's step: everything timed or compared runs through
``fvc.train.engine`` (and ``fvc.train.oom`` / ``fvc.train.checkpoint``). It builds models with
``fvc.models.registry.model_kwargs`` rather than ``fvc.learners.make_plan``, which gives the same builder
arguments for scratch weights but imports ``fvc.config`` (jsonschema, PyYAML), which this script does without
on a bare GPU image.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np
import pandas as pd
import torch
from torch import nn

from fvc.models import create, get_spec
from fvc.models.registry import model_kwargs
from fvc.train import engine
from fvc.train.checkpoint import load_checkpoint
from fvc.train.data import ClipDataset
from fvc.train.engine import TrainConfig, train
from fvc.train.oom import BatchPlan, free_memory

# name: (frames, height, width, batch, extra builder params). Batches sized for an 80 GB H100 in fp32.
MODELS: dict[str, tuple[int, int, int, int, dict[str, Any]]] = {
    "naive_cnn": (6, 112, 112, 64, {}),
    "transfer": (8, 224, 224, 32, {"backbone": "resnet18"}),
    "vit_gru": (8, 224, 224, 32, {"vit": "vit_small_patch16_224"}),
    "x3d": (16, 160, 160, 16, {}),
    "slowfast": (16, 160, 160, 16, {"model_depth": 18}),
    "r3d": (16, 112, 112, 32, {}),
    "variable_ar_cnn": (16, 144, 256, 16, {}),
}
SMOKE_MODELS: dict[str, tuple[int, int, int, int, dict[str, Any]]] = {
    "naive_cnn": (2, 32, 32, 2, {}),
    "transfer": (2, 32, 32, 2, {"backbone": "resnet18"}),
    "vit_gru": (2, 32, 32, 2, {"vit": "vit_small_patch16_224"}),
    "x3d": (4, 32, 32, 2, {}),
    "slowfast": (4, 32, 32, 2, {"model_depth": 18}),
    "r3d": (4, 32, 32, 2, {}),
    "variable_ar_cnn": (4, 32, 64, 2, {}),
}
MODES = ("fp32", "amp", "amp_det", "fp32_bm", "amp_bm")  # _bm: torch.backends.cudnn.benchmark = True

log = logging.getLogger("bench_gpu")
RESULTS: dict[str, Any] = {"errors": []}
START = time.perf_counter()


# --------------------------------------------------------------------------------------------- helpers


def elapsed() -> float:
    return time.perf_counter() - START


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_mb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def cleanup() -> None:
    free_memory()
    if torch.cuda.is_available():
        torch.cuda.synchronize()


@contextmanager
def section(name: str):
    """Run a section; on failure print and record the traceback and carry on."""
    print(f"\n=== {name} ({elapsed():.0f}s) ===", flush=True)
    try:
        yield
    except Exception as exc:  # noqa: BLE001 (one failure must not stop the run)
        text = traceback.format_exc()
        print(f"!!! section {name} failed: {type(exc).__name__}: {exc}\n{text}", flush=True)
        RESULTS["errors"].append({"where": name, "error": f"{type(exc).__name__}: {exc}", "traceback": text})
    finally:
        cleanup()
        save()


@contextmanager
def deterministic(enabled: bool):
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` as fvc.learners.torch_fit sets it; warnings kept."""
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if enabled:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield caught
        finally:
            torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def warning_summary(caught: list[warnings.WarningMessage], limit: int = 8) -> list[str]:
    counts: dict[str, int] = {}
    for w in caught:
        text = str(w.message).strip().splitlines()[0][:220]
        counts[text] = counts.get(text, 0) + 1
    return [f"{n}x {text}" for text, n in sorted(counts.items(), key=lambda kv: -kv[1])[:limit]]


def save() -> None:
    RESULTS["elapsed_s"] = round(elapsed(), 1)
    text = json.dumps(RESULTS, indent=1, default=_json_default)
    for path in _json_paths():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        except OSError as exc:
            print(f"could not write {path}: {exc}", flush=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, torch.dtype):
        return str(value)
    return repr(value)


_JSON_PATH: Path | None = None


def _json_paths() -> list[Path]:
    paths = []
    if _JSON_PATH is not None:
        paths.append(_JSON_PATH)
    elif os.environ.get("OUT"):
        paths.append(Path(os.environ["OUT"]) / "bench_gpu.json")
    return paths


def finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def layout(name: str) -> str:
    return "clip" if get_spec(name).input == "clip" else "frames"


def build(name: str, frames: int, height: int, width: int, extra: dict[str, Any], seed: int = 0) -> nn.Module:
    """The model through the registry, shaped by the clip (as the workflow shapes it from its clipset)."""
    torch.manual_seed(seed)
    # Step time does not depend on the starting weights: scratch, so the benchmark needs no weights cache.
    kwargs = model_kwargs(name, {"pretrained": False, **extra}, {"frames": frames, "size": height})
    return create(name, **kwargs)


def clip_batch(name: str, frames: int, height: int, width: int, batch: int, device: torch.device) -> torch.Tensor:
    shape = (batch, 3, frames, height, width) if layout(name) == "clip" else (batch, frames, 3, height, width)
    return torch.randn(*shape, device=device)


def write_clips(folder: Path, name: str, n: int, frames: int, height: int, width: int, seed: int) -> ClipDataset:
    """``n`` uint8 ``(T, H, W, 3)`` clips saved as .npy, read back through the real ClipDataset.

    Fake clips (odd indices) carry a bright square, as in tests/unit/test_engine.py, so the loss can fall.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        clip = rng.integers(0, 120, (frames, height, width, 3), dtype=np.uint8)
        if label:
            clip[:, height // 4 : height // 2, width // 4 : width // 2] = 250
        path = folder / f"s{seed}_{i}.npy"
        np.save(path, clip)
        rows.append({"path": str(path), "label": label, "frames": frames, "height": height, "width": width})
    spec = get_spec(name)
    mean, std = spec.default_cfg.get("mean", (0.5,) * 3), spec.default_cfg.get("std", (0.5,) * 3)
    return ClipDataset(pd.DataFrame(rows), mean=mean, std=std, layout=layout(name))


def state_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> tuple[float, str]:
    worst, where = 0.0, ""
    for key, value in a.items():
        if not torch.is_floating_point(value):
            d = float((value.cpu().long() - b[key].cpu().long()).abs().max()) if value.numel() else 0.0
        else:
            d = float((value.detach().cpu().double() - b[key].detach().cpu().double()).abs().max()) if value.numel() else 0.0
        if d > worst:
            worst, where = d, key
    return worst, where


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------------------------- 1. env


def env_section(device: torch.device) -> None:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": str(device),
        "cpu_threads": torch.get_num_threads(),
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "engine_amp_dtype": str(engine.amp_dtype_for(device, True)),
    }
    for module in ("timm", "torchvision", "pytorchvideo", "numpy"):
        try:
            info[module] = __import__(module).__version__
        except Exception as exc:  # noqa: BLE001
            info[module] = f"unavailable ({type(exc).__name__}: {exc})"
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            gpu=torch.cuda.get_device_name(device),
            capability=f"{props.major}.{props.minor}",
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            multiprocessors=props.multi_processor_count,
            bf16_supported=torch.cuda.is_bf16_supported(),
        )
    RESULTS["env"] = info
    for key, value in info.items():
        print(f"  {key:26s} {value}")


# --------------------------------------------------------------------------------------------- 2. throughput


class StepClock:
    """``engine.train_epoch``'s ``on_step`` hook: the time of every step (device synchronised at its end) and its loss."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.times, self.losses, self.last = device, [], [], 0.0

    def start(self) -> None:
        sync(self.device)
        self.last = time.perf_counter()

    def __call__(self, step: int, loss: float, mean_loss: float) -> None:
        sync(self.device)
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.losses.append(loss)
        self.last = now


def optimizer_steps(optimizer: torch.optim.Optimizer) -> int:
    """How many steps the optimizer took (AdamW counts them per parameter)."""
    return max((int(s["step"]) for s in optimizer.state.values() if "step" in s), default=0)


def time_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp_dtype: torch.dtype | None, warmup: int, steps: int,
               device: torch.device) -> dict[str, Any]:  # fmt: skip
    """``warmup + steps`` steps of the engine's training loop (``engine.train_epoch``, with the optimizer, scaler and
    class-weighted loss ``train()`` makes, one optimizer step per batch) on one batch; median step time after warm-up."""
    cfg = TrainConfig(lr=1e-3)
    optimizer = engine.make_optimizer(model, cfg)
    scaler = engine.make_scaler(amp_dtype)
    criterion = engine.make_criterion(y.cpu().numpy(), cfg, device)
    steps = max(1, steps)
    cleanup()
    reset_peak(device)
    clock = StepClock(device)
    clock.start()
    mean_loss, _ = engine.train_epoch(model, [(x, y)] * (warmup + steps), BatchPlan(len(y), 1), cfg, optimizer=optimizer, scaler=scaler,
                                      criterion=criterion, amp_dtype=amp_dtype, device=device, on_step=clock)  # fmt: skip
    times = clock.times[warmup:]
    step = statistics.median(times)
    out = {
        "step_ms": round(step * 1e3, 2),
        "timed_steps": len(times),
        "engine_steps": len(clock.times),
        "optimizer_steps": optimizer_steps(optimizer),
        "clips_per_s": round(x.shape[0] / step, 1),
        "peak_mb": round(peak_mb(device), 0) if device.type == "cuda" else None,
        "loss_first": round(clock.losses[0], 4),
        "loss_last": round(clock.losses[-1], 4),
        "loss_mean": round(mean_loss, 4),
        "losses_finite": all(map(finite, clock.losses)),
    }
    del optimizer, scaler
    return out


def throughput_section(device: torch.device, models: dict, warmup: int, steps: int, budget: float, workdir: Path) -> None:
    rows: list[dict[str, Any]] = []
    RESULTS["throughput"] = rows
    amp_dtype = engine.amp_dtype_for(device, True)
    print(f"  AMP dtype from the engine: {amp_dtype}; {warmup} warm-up + {steps} timed steps per mode")
    for name, (frames, height, width, batch, extra) in models.items():
        row: dict[str, Any] = {"model": name, "input": f"{frames}x{height}x{width}", "batch": batch, "params": extra}
        rows.append(row)
        if elapsed() > budget:
            row["skipped"] = f"time budget of {budget:.0f}s spent"
            print(f"  {name}: skipped (time budget)", flush=True)
            continue
        model = x = y = None
        try:
            model = build(name, frames, height, width, extra).to(device)
            if hasattr(model, "on_epoch_start"):
                model.on_epoch_start(10**6)  # every stage trainable
            row["params_m"] = round(sum(p.numel() for p in model.parameters()) / 1e6, 2)
            x = clip_batch(name, frames, height, width, batch, device)
            y = torch.arange(batch, device=device) % 2
            for mode in MODES:
                dtype = None if mode.startswith("fp32") else (amp_dtype if device.type == "cuda" else None)
                benchmark_before = torch.backends.cudnn.benchmark
                try:
                    torch.backends.cudnn.benchmark = mode.endswith("_bm")
                    with deterministic(mode == "amp_det") as caught:
                        row[mode] = time_steps(model, x, y, dtype, warmup, steps, device)
                    if mode == "amp_det":
                        row[mode]["warnings"] = warning_summary(caught)
                except Exception as exc:  # noqa: BLE001 (one failure must not stop the run)
                    row[mode] = {"error": f"{type(exc).__name__}: {str(exc)[:400]}"}
                    RESULTS["errors"].append({"where": f"throughput {name} {mode}", "error": row[mode]["error"], "traceback": traceback.format_exc()})
                    traceback.print_exc()
                    cleanup()
                finally:
                    torch.backends.cudnn.benchmark = benchmark_before
            fp32, amp = row.get("fp32", {}), row.get("amp", {})
            if "clips_per_s" in fp32 and "clips_per_s" in amp:
                row["amp_over_fp32"] = round(amp["clips_per_s"] / fp32["clips_per_s"], 2)
            if "clips_per_s" in row.get("amp_det", {}) and "clips_per_s" in amp:
                row["det_over_amp"] = round(row["amp_det"]["clips_per_s"] / amp["clips_per_s"], 2)
            if "clips_per_s" in row.get("amp_bm", {}) and "clips_per_s" in row.get("fp32_bm", {}):
                row["amp_over_fp32_bm"] = round(row["amp_bm"]["clips_per_s"] / row["fp32_bm"]["clips_per_s"], 2)
        except Exception as exc:  # noqa: BLE001 (one failure must not stop the run)
            row["error"] = f"{type(exc).__name__}: {str(exc)[:400]}"
            RESULTS["errors"].append({"where": f"throughput {name}", "error": row["error"], "traceback": traceback.format_exc()})
            traceback.print_exc()
        del model, x, y
        cleanup()
        # One short epoch of the real engine with AMP on .npy clips through ClipDataset.
        try:
            row["engine_epoch"] = engine_epoch(name, frames, height, width, batch, extra, device, workdir / name)
        except Exception as exc:  # noqa: BLE001 (one failure must not stop the run)
            row["engine_epoch"] = {"error": f"{type(exc).__name__}: {str(exc)[:400]}"}
            RESULTS["errors"].append({"where": f"engine epoch {name}", "error": row["engine_epoch"]["error"], "traceback": traceback.format_exc()})
            traceback.print_exc()
        shutil.rmtree(workdir / name, ignore_errors=True)
        cleanup()
        print("  " + throughput_line(row), flush=True)
        save()


def engine_epoch(name: str, frames: int, height: int, width: int, batch: int, extra: dict, device: torch.device, folder: Path) -> dict[str, Any]:
    train_set = write_clips(folder / "train", name, 2 * batch, frames, height, width, seed=0)
    val_set = write_clips(folder / "val", name, batch, frames, height, width, seed=1)
    model = build(name, frames, height, width, extra)
    cfg = TrainConfig(epochs=1, batch_size=batch, accumulate=1, lr=1e-3, warmup_epochs=0, amp=True, device=str(device))
    started = time.perf_counter()
    result = train(model, train_set, val_set, cfg, checkpoint=folder / "ck.pt", progress=False)
    seconds = time.perf_counter() - started
    h = result.history.iloc[0]
    out = {
        "ok": bool(finite(h["train_loss"]) and finite(h["val_loss"]) and h["peak_memory_mb"] > 0 and not result.backoffs),
        "train_loss": round(float(h["train_loss"]), 4),
        "val_loss": round(float(h["val_loss"]), 4),
        "peak_memory_mb": round(float(h["peak_memory_mb"]), 0),
        "epoch_seconds": round(float(h["seconds"]), 2),
        "data_seconds": round(float(h["data_seconds"]), 2),
        "train_call_seconds": round(seconds, 2),
        "backoffs": result.backoffs,
        "param_device": str(next(model.parameters()).device),
    }
    del model, result
    return out


def throughput_line(row: dict[str, Any]) -> str:
    if "skipped" in row or "error" in row:
        return f"{row['model']:16s} {row.get('skipped') or row.get('error')}"

    def cps(mode: str) -> str:
        m = row.get(mode, {})
        return f"{m['clips_per_s']:8.1f}" if "clips_per_s" in m else f"{'ERR':>8s}"

    def mem(mode: str) -> str:
        m = row.get(mode, {})
        return f"{m['peak_mb'] / 1024:6.1f}" if m.get("peak_mb") is not None else f"{'-':>6s}"

    e = row.get("engine_epoch", {})
    eng = "ok" if e.get("ok") else ("ERR" if "error" in e else "FAIL")
    ratio = f"{row['amp_over_fp32']:5.2f}" if "amp_over_fp32" in row else "  -  "
    det = f"{row['det_over_amp']:5.2f}" if "det_over_amp" in row else "  -  "
    bm = f"{row['amp_over_fp32_bm']:5.2f}" if "amp_over_fp32_bm" in row else "  -  "
    return (f"{row['model']:16s} {row['input']:>12s} {row['batch']:5d} {cps('fp32')} {cps('amp')} {ratio} {cps('amp_det')} {det}"
            f" {cps('fp32_bm')} {cps('amp_bm')} {bm} {mem('fp32')} {mem('amp')} {eng:>6s}")  # fmt: skip


def throughput_table() -> str:
    head = (f"{'model':16s} {'input TxHxW':>12s} {'batch':>5s} {'fp32/s':>8s} {'amp/s':>8s} {'ratio':>5s} {'det/s':>8s} {'det/a':>5s}"
            f" {'fp32bm/s':>8s} {'ampbm/s':>8s} {'ratio':>5s} {'fp32GB':>6s} {'ampGB':>6s} {'engine':>6s}")  # fmt: skip
    return "\n".join([head] + [throughput_line(r) for r in RESULTS.get("throughput", [])])


# --------------------------------------------------------------------------------------------- 3. engine + resume


def model_extra(name: str) -> dict[str, Any]:
    """The builder parameters the throughput table gives ``name`` (e.g. transfer's resnet18 backbone), else none."""
    return dict(MODELS[name][4]) if name in MODELS else {}


def engine_section(device: torch.device, smoke: bool, workdir: Path, name: str = "transfer") -> None:
    extra = model_extra(name)
    frames, size, n_train, n_val, batch = (2, 32, 8, 4, 2) if smoke else (8, 112, 64, 32, 16)
    train_set = write_clips(workdir / "train", name, n_train, frames, size, size, seed=0)
    val_set = write_clips(workdir / "val", name, n_val, frames, size, size, seed=1)
    cfg = TrainConfig(epochs=2, batch_size=batch, accumulate=1, lr=1e-3, backbone_lr=1e-4, warmup_epochs=0.5, patience=5, seed=0,
                      amp=True, device=str(device))  # fmt: skip
    out: dict[str, Any] = {"model": name, "input": f"{frames}x{size}x{size}", "n_train": n_train, "n_val": n_val, "config": vars(cfg)}
    RESULTS["engine"] = out
    for mode in ("default", "workflow_deterministic"):
        with deterministic(mode != "default") as caught:
            runs = {}
            # A: uninterrupted; B: killed after epoch 0; C: a new process resumes B's checkpoint.
            straight = build(name, frames, size, size, extra, seed=0)
            runs["A"] = train(straight, train_set, val_set, cfg, checkpoint=workdir / f"{mode}_a.pt", fingerprint="x", progress=False)
            first = build(name, frames, size, size, extra, seed=0)
            runs["B"] = train(first, train_set, val_set, cfg, checkpoint=workdir / f"{mode}_b.pt", fingerprint="x", progress=False,
                              stop_after_epoch=0)  # fmt: skip
            del first
            second = build(name, frames, size, size, extra, seed=123)  # a restarted job's fresh initialisation must not matter
            runs["C"] = train(second, train_set, val_set, cfg, checkpoint=workdir / f"{mode}_b.pt", fingerprint="x", progress=False)
        last_a = load_checkpoint(workdir / f"{mode}_a.pt", "x")["model"]  # the engine's own checkpoints, as it reads them
        last_c = load_checkpoint(workdir / f"{mode}_b.pt", "x")["model"]
        best_diff, best_key = state_diff(cpu_state(straight), cpu_state(second))
        last_diff, last_key = state_diff(last_a, last_c)
        ha, hc = runs["A"].history, runs["C"].history
        cols = ["train_loss", "val_loss", "val_f1", "val_auc", "lr", "backbone_lr"]
        hist_diff = {c: float(np.nanmax(np.abs(ha[c].to_numpy(float) - hc[c].to_numpy(float)))) if len(ha) == len(hc) else None for c in cols}
        res = {
            "history_A": ha.round(5).to_dict(orient="records"),
            "history_C": hc.round(5).to_dict(orient="records"),
            "losses_finite": bool(all(finite(v) for h in (ha, hc) for c in ("train_loss", "val_loss") for v in h[c])),
            "peak_memory_positive": bool((ha["peak_memory_mb"] > 0).all() and (hc["peak_memory_mb"] > 0).all()),
            "resumed_from": runs["C"].resumed_from,
            "epochs_A": ha["epoch"].tolist(),
            "epochs_C": hc["epoch"].tolist(),
            "best_epoch_A": runs["A"].best_epoch,
            "best_epoch_C": runs["C"].best_epoch,
            "best_weights_max_abs_diff": best_diff,
            "best_weights_worst_key": best_key,
            "last_weights_max_abs_diff": last_diff,
            "last_weights_worst_key": last_key,
            "history_max_abs_diff": hist_diff,
            "param_device": str(next(straight.parameters()).device),
            "warnings": warning_summary(caught),
        }
        out[mode] = res
        print(f"  [{mode}] epochs A {res['epochs_A']} C {res['epochs_C']} (resumed from {res['resumed_from']}), losses finite "
              f"{res['losses_finite']}, peak memory > 0 {res['peak_memory_positive']}, peak MB {ha['peak_memory_mb'].round(0).tolist()}")
        print(f"  [{mode}] max |A - C|: last-epoch weights {last_diff:.3g} ({last_key}), best weights {best_diff:.3g} ({best_key}); "
              f"history {', '.join(f'{k} {v:.3g}' for k, v in hist_diff.items() if v is not None)}")
        for w in res["warnings"]:
            print(f"  [{mode}] warning: {w}")
        del straight, second, runs
        cleanup()
        save()


# --------------------------------------------------------------------------------------------- 4. OOM back-off


class SimulatedOOM(nn.Module):
    """CPU stand-in: the wrapped model fails like the CUDA allocator above ``limit`` clips per training batch.

    It raises ``torch.cuda.OutOfMemoryError`` (what ``fvc.train.oom.is_out_of_memory`` recognises); everything
    after that, the back-off, the checkpoint the retry returns to and the new ``BatchPlan``, is the engine's.
    """

    def __init__(self, inner: nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit = inner, limit
        self.backbone = getattr(inner, "backbone", None)
        self.oom_raised: list[int] = []  # the batch sizes that failed

    def on_epoch_start(self, epoch: int) -> None:
        if hasattr(self.inner, "on_epoch_start"):
            self.inner.on_epoch_start(epoch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] > self.limit:
            self.oom_raised.append(int(x.shape[0]))
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (simulated above {self.limit} clips)")
        return self.inner(x)


def planned_backoffs(batch: int, accumulate: int, backoffs: int) -> list[BatchPlan]:
    """The plans ``fvc.train.oom.BatchPlan.halved`` makes for ``backoffs`` out-of-memory errors, the first one included."""
    plans = [BatchPlan(batch, accumulate)]
    for _ in range(backoffs):
        plans.append(plans[-1].halved())
    return plans


def oom_section(device: torch.device, smoke: bool, workdir: Path, name: str = "r3d") -> None:
    extra = model_extra(name)
    frames, size, batch, probe = (4, 32, 8, 2) if smoke else (16, 112, 64, 8)
    out: dict[str, Any] = {"model": name, "input": f"{frames}x{size}x{size}", "requested_batch": batch}
    RESULTS["oom"] = out
    train_set = write_clips(workdir / "train", name, batch, frames, size, size, seed=0)
    val_set = write_clips(workdir / "val", name, probe, frames, size, size, seed=1)
    cfg = TrainConfig(epochs=1, batch_size=batch, accumulate=1, lr=1e-3, warmup_epochs=0, amp=True, device=str(device))
    capped = False
    try:
        if device.type == "cuda":
            # One step at the probe batch says what fits; the cap leaves 25 % above it, so twice the probe cannot fit.
            model = build(name, frames, size, size, extra).to(device)
            x = clip_batch(name, frames, size, size, probe, device)
            y = torch.arange(probe, device=device) % 2
            probe_stats = time_steps(model, x, y, engine.amp_dtype_for(device, True), 0, 2, device)
            del model, x, y
            cleanup()
            total = torch.cuda.get_device_properties(device).total_memory
            cap = probe_stats["peak_mb"] * 2**20 * 1.25 + 64 * 2**20
            fraction = cap / total
            out.update(probe_batch=probe, probe_peak_mb=probe_stats["peak_mb"], cap_mb=round(cap / 2**20), fraction=round(fraction, 5))
            torch.cuda.empty_cache()
            torch.cuda.set_per_process_memory_fraction(fraction, torch.cuda.current_device())
            capped = True
            model = build(name, frames, size, size, extra)
            how = f"memory capped at {cap / 2**20:.0f} MB (fraction {fraction:.4f}); probe batch {probe} peaked at {probe_stats['peak_mb']:.0f} MB"
        else:
            model = SimulatedOOM(build(name, frames, size, size, extra), limit=probe)
            how = f"simulated OOM above {probe} clips (no CUDA)"
        print(f"  {how}; asking for batch {batch}", flush=True)
        out["how"] = how
        handler = _ListHandler()
        logging.getLogger("fvc.train.engine").addHandler(handler)
        started = time.perf_counter()
        try:
            result = train(model, train_set, val_set, cfg, checkpoint=workdir / "oom.pt", progress=False)
        finally:
            logging.getLogger("fvc.train.engine").removeHandler(handler)
        h = result.history
        planned = planned_backoffs(cfg.batch_size, cfg.accumulate, len(result.backoffs))
        out.update(
            seconds=round(time.perf_counter() - started, 2),
            backoffs=result.backoffs,
            logged_warnings=[m for m in handler.messages if "out of memory" in m],
            final_plan={"batch_size": result.plan.batch_size, "accumulate": result.plan.accumulate, "effective": result.plan.effective},
            planned_by_oom=[{"batch_size": p.batch_size, "accumulate": p.accumulate} for p in planned],
            plan_as_oom_plans=result.plan == planned[-1],
            history_plan=h[["batch_size", "accumulate"]].drop_duplicates().to_dict(orient="records"),
            effective_kept=result.plan.effective == batch,
            history=h.round(4).to_dict(orient="records"),
            losses_finite=bool(all(finite(v) for v in h["train_loss"])),
            peak_memory_mb=float(h["peak_memory_mb"].max()) if len(h) else None,
        )
        if isinstance(model, SimulatedOOM):
            out["simulated_oom_at"] = model.oom_raised
        for message in result.backoffs:
            print(f"  back-off: {message}")
        print(f"  final plan: {result.plan} (effective {result.plan.effective}, kept: {out['effective_kept']}; as fvc.train.oom plans "
              f"{len(result.backoffs)} back-offs: {out['plan_as_oom_plans']}); history peak MB "
              f"{out['peak_memory_mb']}, train loss {h['train_loss'].round(4).tolist()}", flush=True)
        del model, result
    finally:
        if capped:
            torch.cuda.set_per_process_memory_fraction(1.0, torch.cuda.current_device())
        cleanup()


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    global _JSON_PATH, START
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one step each (any machine)")
    parser.add_argument("--models", nargs="+", default=None, help="subset of the throughput models")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps per mode (default 5; smoke 1)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per mode (default 15; smoke 1)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds after which remaining throughput models are skipped")
    parser.add_argument("--sections", nargs="+", default=["env", "engine", "oom", "throughput"])
    parser.add_argument("--engine-model", default="transfer", help="the model of the kill-and-resume check (default transfer/resnet18)")
    parser.add_argument("--oom-model", default="r3d", help="the model of the out-of-memory back-off check (default r3d)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the JSON (default $OUT/bench_gpu.json)")
    args = parser.parse_args(argv)
    _JSON_PATH, START = args.json, time.perf_counter()
    RESULTS.clear()
    RESULTS["errors"] = []
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not args.smoke:
        print("no CUDA device: run with --smoke for a CPU check of the script", file=sys.stderr)
        return 2
    models = SMOKE_MODELS if args.smoke else MODELS
    if args.models:
        models = {k: v for k, v in models.items() if k in args.models}
    warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 5)
    steps = args.steps if args.steps is not None else (1 if args.smoke else 15)
    RESULTS["run"] = {"smoke": args.smoke, "warmup": warmup, "steps": steps, "models": list(models),
                      "argv": sys.argv[1:] if argv is None else list(argv)}
    workdir = Path(tempfile.mkdtemp(prefix="bench_gpu_"))
    try:
        if "env" in args.sections:
            with section("1. environment"):
                env_section(device)
        if "engine" in args.sections:
            with section("3. engine.train on the device: 2 epochs AMP, kill after epoch 0 + resume"):
                engine_section(device, args.smoke, workdir / "engine", args.engine_model)
        if "oom" in args.sections:
            with section("4. out-of-memory back-off"):
                oom_section(device, args.smoke, workdir / "oom", args.oom_model)
        if "throughput" in args.sections:
            with section("2. training throughput fp32 vs AMP (+ one engine epoch per model)"):
                throughput_section(device, models, warmup, steps, args.budget, workdir / "throughput")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    save()
    print("\nJSON:")
    print(json.dumps({k: v for k, v in RESULTS.items() if k != "errors"} | {"errors": [{k: e[k] for k in ("where", "error")} for e in RESULTS["errors"]]},
                     default=_json_default))  # fmt: skip
    print("\n=== summary ===")
    env = RESULTS.get("env", {})
    print(f"device: {env.get('gpu', device)}; torch {env.get('torch')}; AMP dtype {env.get('engine_amp_dtype')}; bf16 {env.get('bf16_supported')}")
    print("clips/s = training clips per second (median step); ratio = amp/fp32; det = AMP under use_deterministic_algorithms "
          "(the workflow's setting), det/a = det/amp; bm = cudnn.benchmark on; GB = peak allocated; engine = one AMP epoch of engine.train ok")
    print(throughput_table())
    for mode, res in RESULTS.get("engine", {}).items():
        if isinstance(res, dict) and "last_weights_max_abs_diff" in res:
            print(f"resume [{mode}]: max |uninterrupted - resumed| last-epoch weights {res['last_weights_max_abs_diff']:.3g}, "
                  f"best weights {res['best_weights_max_abs_diff']:.3g}; losses finite {res['losses_finite']}")
    oom = RESULTS.get("oom", {})
    if "final_plan" in oom:
        print(f"oom: {len(oom['backoffs'])} back-offs, final plan {oom['final_plan']}, effective batch kept {oom['effective_kept']}, "
              f"as fvc.train.oom plans it {oom['plan_as_oom_plans']}")
    print(f"errors: {len(RESULTS['errors'])}")
    for err in RESULTS["errors"]:
        print(f"  {err['where']}: {err['error']}")
    print(f"\ndone in {elapsed():.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
