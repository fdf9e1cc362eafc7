"""benchmarks/bench_gpu.py times the engine's own training step, not a copy of it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fvc.models import create
from fvc.train import engine
from fvc.train.data import ClipDataset
from fvc.train.engine import TrainConfig

REPO = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", REPO / "benchmarks" / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_throughput_timer_runs_the_engines_step_functions(monkeypatch):
    bench = _bench()
    calls = {"forward_backward": 0, "optimizer_step": 0}
    for name in calls:
        original = getattr(engine, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(engine, name, counted)
    torch.manual_seed(0)
    model = create("naive_cnn")
    x, y = torch.rand(2, 2, 3, 16, 16), torch.tensor([0, 1])
    row = bench.time_steps(model, x, y, None, warmup=1, steps=2, device=torch.device("cpu"))
    assert calls == {"forward_backward": 3, "optimizer_step": 3}
    assert row["timed_steps"] == 2 and row["losses_finite"]


def test_the_engines_step_functions_are_the_steps_train_takes(tmp_path):
    """One epoch of train() (one batch, no accumulation) leaves the weights that one forward_backward plus one
    optimizer_step (with train()'s optimizer, scaler, loss and schedule) leave."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(4):
        np.save(tmp_path / f"c{i}.npy", rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8))
        rows.append({"path": str(tmp_path / f"c{i}.npy"), "label": i % 2, "frames": 2, "height": 16, "width": 16})
    data = ClipDataset(pd.DataFrame(rows), mean=(0.5,) * 3, std=(0.5,) * 3)
    cfg = TrainConfig(epochs=1, batch_size=4, lr=3e-3, warmup_epochs=0, seed=0, min_epochs=1, precise_bn_batches=0, device="cpu")

    torch.manual_seed(0)
    trained = create("naive_cnn")
    torch.manual_seed(0)
    stepped = create("naive_cnn")
    start = {k: v.clone() for k, v in stepped.state_dict().items()}
    engine.train(trained, data, data, cfg, checkpoint=tmp_path / "ck.pt", progress=False)

    stepped.load_state_dict(start)
    engine._seed_epoch(cfg.seed, 0)
    stepped.train()
    optimizer = engine.make_optimizer(stepped, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, engine._warmup_cosine(cfg, 1))
    scaler, criterion = engine.make_scaler(None), engine.make_criterion(data.labels, cfg, torch.device("cpu"))
    loader = engine.make_loader(data, cfg.batch_size, shuffle=True, seed=cfg.seed, num_workers=0)
    loader.batch_sampler.set_epoch(0)
    optimizer.zero_grad(set_to_none=True)
    for clips, labels in loader:
        engine.forward_backward(stepped, clips, labels, criterion=criterion, scaler=scaler, amp_dtype=None)
        engine.optimizer_step(stepped, optimizer, scaler, grad_clip=cfg.grad_clip, scheduler=scheduler)
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(stepped.state_dict()[key], value, rtol=0, atol=0, msg=key)
