"""The training engine: learning, exact resumption after a kill, out-of-memory back-off, schedules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from fvc.models import create, get_spec
from fvc.train.data import BucketBatchSampler, ClipDataset, ShuffledBatchSampler, mirror_index, pad_collate
from fvc.train.engine import TrainConfig, _warmup_cosine, predict, recompute_batchnorm, train
from fvc.train.oom import BatchPlan, OutOfMemoryGiveUp


def dataset(tmp_path, n: int = 24, seed: int = 0, shapes=((4, 16, 16),)) -> ClipDataset:
    """Clips whose fake ones carry a bright square: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        t, h, w = shapes[i % len(shapes)]
        clip = rng.integers(0, 120, (t, h, w, 3), dtype=np.uint8)
        if label:
            clip[:, 4:10, 4:10] = 250
        path = tmp_path / f"c{seed}_{i}.npy"
        np.save(path, clip)
        rows.append({"path": str(path), "label": label, "frames": t, "height": h, "width": w})
    return ClipDataset(pd.DataFrame(rows), mean=(0.5,) * 3, std=(0.5,) * 3)


CFG = TrainConfig(epochs=4, batch_size=4, accumulate=2, lr=3e-3, warmup_epochs=1, patience=10, seed=0)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_engine_learns_and_records_history(tmp_path):
    torch.manual_seed(0)
    model = create("naive_cnn")
    result = train(model, dataset(tmp_path), dataset(tmp_path, seed=1), TrainConfig(epochs=8, batch_size=4, lr=3e-3, patience=10),
                   checkpoint=tmp_path / "ck.pt", progress=False)  # fmt: skip
    history = result.history
    assert list(history["epoch"]) == list(range(8))
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    # Kept weights: the lowest smoothed validation loss from epoch min_epochs - 1 (default: half the epochs) on.
    candidates = history[history["epoch"] >= 3]
    assert result.best_epoch == int(candidates.loc[candidates["monitored"].idxmin(), "epoch"])
    assert result.best_score == pytest.approx(candidates["monitored"].min())
    assert history.loc[result.best_epoch, "val_f1"] > 0.8
    assert (history["data_seconds"] <= history["seconds"]).all() and (history["peak_memory_mb"] > 0).all()
    probs, _ = predict(model, dataset(tmp_path, seed=2))
    assert ((probs >= 0.5) == dataset(tmp_path, seed=2).labels).mean() > 0.8


def test_smoothed_loss_early_stopping_waits_for_min_epochs(tmp_path):
    cfg = TrainConfig(epochs=12, batch_size=4, lr=3e-3, patience=2, min_epochs=5, smoothing=0.5, seed=0)
    torch.manual_seed(0)
    result = train(create("naive_cnn"), dataset(tmp_path), dataset(tmp_path, seed=1), cfg, checkpoint=tmp_path / "ck.pt", progress=False)
    history = result.history
    assert len(history) >= 5 and result.best_epoch >= 4
    # The monitored column is the exponential moving average of the validation loss.
    expected = history["val_loss"].ewm(alpha=0.5, adjust=False).mean()
    np.testing.assert_allclose(history["monitored"], expected, rtol=1e-9)
    if len(history) < 12:  # stopped early: `patience` epochs without a new best after the first candidate
        assert len(history) - 1 - result.best_epoch == cfg.patience


def test_monitor_is_validated():
    with pytest.raises(ValueError, match="monitor must be one of"):
        TrainConfig(monitor="val_acc")


def test_killed_after_two_epochs_and_resumed_equals_uninterrupted(tmp_path):
    train_set, val_set = dataset(tmp_path), dataset(tmp_path, seed=1)

    torch.manual_seed(0)
    straight = create("naive_cnn")
    full = train(straight, train_set, val_set, CFG, checkpoint=tmp_path / "a.pt", fingerprint="x", progress=False)

    torch.manual_seed(0)
    first = create("naive_cnn")
    partial = train(first, train_set, val_set, CFG, checkpoint=tmp_path / "b.pt", fingerprint="x", progress=False, stop_after_epoch=1)
    assert list(partial.history["epoch"]) == [0, 1]
    del first  # the killed process is gone; a new one starts from the checkpoint
    torch.manual_seed(123)  # a restarted job's fresh initialisation must not matter
    second = create("naive_cnn")
    resumed = train(second, train_set, val_set, CFG, checkpoint=tmp_path / "b.pt", fingerprint="x", progress=False)
    assert resumed.resumed_from == 1
    for key, value in weights(straight).items():
        torch.testing.assert_close(weights(second)[key], value, rtol=0, atol=0, msg=key)
    pd.testing.assert_frame_equal(full.history.drop(columns=["seconds", "data_seconds", "peak_memory_mb"]),
                                  resumed.history.drop(columns=["seconds", "data_seconds", "peak_memory_mb"]))  # fmt: skip


def test_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    train_set, val_set = dataset(tmp_path), dataset(tmp_path, seed=1)
    train(create("naive_cnn"), train_set, val_set, CFG, checkpoint=tmp_path / "c.pt", fingerprint="one", progress=False, stop_after_epoch=0)
    again = train(create("naive_cnn"), train_set, val_set, CFG, checkpoint=tmp_path / "c.pt", fingerprint="two", progress=False)
    assert again.resumed_from is None and list(again.history["epoch"]) == [0, 1, 2, 3]


class OOMAbove(nn.Module):
    """A model whose forward fails like a CUDA allocator above ``limit`` samples per batch."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.backbone = nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(4, 2)
        self.seen: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.shape[0])
        if self.training and x.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        b, t = x.shape[:2]
        features = self.backbone(x.flatten(0, 1)).mean(dim=(2, 3))
        return self.head(features).view(b, t, -1).mean(dim=1)


def test_out_of_memory_halves_batch_keeps_effective_batch(tmp_path, caplog):
    model = OOMAbove(limit=2)
    cfg = TrainConfig(epochs=2, batch_size=8, accumulate=1, patience=10)
    result = train(model, dataset(tmp_path), dataset(tmp_path, seed=1), cfg, checkpoint=tmp_path / "o.pt", progress=False)
    assert len(result.backoffs) == 2 and "batch size 8" in result.backoffs[0] and "batch size 4" in result.backoffs[1]
    assert result.plan == BatchPlan(2, 4)
    assert (result.history["batch_size"] * result.history["accumulate"] == 8).all()
    assert list(result.history["epoch"]) == [0, 1]
    assert sum("out of memory" in r.message for r in caplog.records) == 2


def test_out_of_memory_at_batch_size_one_gives_up(tmp_path):
    with pytest.raises(OutOfMemoryGiveUp, match="batch size 1"):
        train(OOMAbove(limit=0), dataset(tmp_path), dataset(tmp_path, seed=1), TrainConfig(epochs=1, batch_size=2),
              checkpoint=tmp_path / "g.pt", progress=False)  # fmt: skip


def test_warmup_then_cosine_schedule():
    factor = _warmup_cosine(TrainConfig(epochs=10, warmup_epochs=1), steps_per_epoch=10)
    values = [factor(s) for s in range(100)]
    assert values[0] == pytest.approx(0.1) and max(values) == pytest.approx(1.0, abs=0.01)
    assert np.argmax(values) == 10 and values[-1] < 0.05
    assert all(a >= b for a, b in zip(values[10:], values[11:]))


def test_differential_learning_rates(tmp_path):
    model = create("transfer", backbone="resnet18", pretrained=False)
    cfg = TrainConfig(epochs=1, batch_size=4, lr=1e-3, backbone_lr=1e-5, warmup_epochs=0)
    result = train(model, dataset(tmp_path, n=8, shapes=((2, 32, 32),)), dataset(tmp_path, n=4, seed=1, shapes=((2, 32, 32),)), cfg,
                   checkpoint=tmp_path / "d.pt", progress=False)  # fmt: skip
    row = result.history.iloc[0]
    assert row["backbone_lr"] / row["lr"] == pytest.approx(1e-2)


def test_training_batches_mix_shapes_and_reshuffle_by_epoch():
    shapes = [(4, 112, 200), (4, 256, 144)] * 6
    sampler = ShuffledBatchSampler(len(shapes), 4, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(12))
    # Shapes are mixed: batches of one shape let BatchNorm compare a scene's fake with its real twin.
    assert any(len({shapes[i] for i in b}) > 1 for b in batches)
    sampler.set_epoch(1)
    assert list(sampler) != batches
    sampler.set_epoch(0)
    assert list(sampler) == batches


def test_scoring_batches_keep_shapes_apart_in_order():
    shapes = [(4, 112, 200), (4, 256, 144)] * 3
    batches = list(BucketBatchSampler(shapes, 2))
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert all(len({shapes[i] for i in b}) == 1 and b == sorted(b) for b in batches)


@pytest.mark.parametrize(("size", "target"), [(5, 9), (5, 8), (4, 4), (3, 12), (2, 11)])
def test_pad_collate_centres_and_mirrors_like_np_pad(size, target):
    before = (target - size) // 2
    assert mirror_index(size, target).tolist() == np.pad(np.arange(size), (before, target - size - before), mode="symmetric").tolist()
    small = torch.arange(2 * 3 * size * 2, dtype=torch.float32).view(2, 3, size, 2)  # (T, C, H, W)
    large = torch.zeros(2, 3, target, 5)
    clips, labels = pad_collate([(small, 1), (large, 0)])
    assert clips.shape == (2, 2, 3, target, 5) and labels.tolist() == [1, 0]
    expected = np.pad(small.numpy(), ((0, 0), (0, 0), (before, target - size - before), (1, 2)), mode="symmetric")
    assert np.array_equal(clips[0].numpy(), expected)
    assert torch.equal(clips[1], large)


def test_a_clips_score_does_not_depend_on_its_batch(tmp_path):
    """Scoring never pads: the same clip gets the same score alone and batched with clips of other shapes."""
    mixed = dataset(tmp_path, n=6, shapes=((2, 16, 32), (2, 32, 16), (2, 16, 16)))
    model = create("naive_cnn", pretrained=False).eval()
    together, _ = predict(model, mixed, batch_size=6)
    alone = [predict(model, ClipDataset(mixed_rows(mixed, i), mean=(0.5,) * 3, std=(0.5,) * 3), batch_size=1)[0][0] for i in range(6)]
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def mixed_rows(ds: ClipDataset, index: int) -> pd.DataFrame:
    frames, height, width = ds.shapes[index]
    return pd.DataFrame([{"path": ds.paths[index], "label": int(ds.labels[index]), "frames": frames, "height": height, "width": width}])


def test_mixed_aspect_ratio_batches_train(tmp_path):
    class Pool(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Conv2d(3, 8, 3, padding=1)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            b, t = x.shape[:2]
            return self.head(self.backbone(x.flatten(0, 1)).amax(dim=(2, 3))).view(b, t, -1).mean(1)

    mixed = ((2, 16, 32), (2, 32, 16))
    result = train(Pool(), dataset(tmp_path, shapes=mixed), dataset(tmp_path, seed=1, shapes=mixed), TrainConfig(epochs=2, batch_size=4),
                   checkpoint=tmp_path / "m.pt", progress=False)  # fmt: skip
    assert len(result.history) == 2


class _FrameBN(nn.Module):
    """(B, T, C, H, W) -> per-frame BatchNorm statistics of the raw pixels, one frozen BN layer beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.frozen = nn.BatchNorm2d(3)
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.flatten(0, 1)
        self.frozen(frames)
        return self.head(self.bn(frames).mean(dim=(2, 3))).view(x.shape[0], x.shape[1], 2).mean(1)

    def train(self, mode: bool = True) -> _FrameBN:
        super().train(mode)
        self.frozen.eval()  # as a frozen pretrained stage: its statistics must survive
        return self


def test_recompute_batchnorm_gives_the_data_statistics_and_spares_frozen_layers(tmp_path):
    data = dataset(tmp_path, n=16)
    model = _FrameBN()
    with torch.no_grad():
        model.bn.running_mean.fill_(5.0)  # statistics that lag far behind, as after fast-moving weights
        model.bn.running_var.fill_(9.0)
        model.frozen.running_mean.fill_(7.0)
    assert recompute_batchnorm(model, data, batch_size=4, batches=4) == 1
    pixels = torch.stack([data[i][0] for i in range(len(data))])  # (N, T, C, H, W)
    expected_mean = pixels.transpose(0, 2).flatten(1).mean(dim=1)
    torch.testing.assert_close(model.bn.running_mean, expected_mean, rtol=1e-4, atol=1e-4)
    assert float(model.bn.running_var.max()) < 1.0 and model.bn.momentum == 0.1
    assert torch.all(model.frozen.running_mean == 7.0)


def test_precise_batchnorm_runs_before_each_validation(tmp_path, monkeypatch):
    import fvc.train.engine as engine

    calls = []
    monkeypatch.setattr(engine, "recompute_batchnorm", lambda model, ds, **kw: calls.append(kw["batches"]) or 1)
    train(create("naive_cnn"), dataset(tmp_path), dataset(tmp_path, seed=1), TrainConfig(epochs=2, batch_size=8, precise_bn_batches=3),
          checkpoint=tmp_path / "a.pt", progress=False)  # fmt: skip
    assert calls == [3, 3]
    calls.clear()
    train(create("naive_cnn"), dataset(tmp_path), dataset(tmp_path, seed=1), TrainConfig(epochs=2, batch_size=8, precise_bn_batches=0),
          checkpoint=tmp_path / "b.pt", progress=False)  # fmt: skip
    assert calls == []


def _clip_shard(root, frames: int, n_groups: int = 8) -> tuple[str, pd.DataFrame]:
    """A clips-stage shard by hand: one clip per video, a real and a fake video per group; and its folds."""
    rng = np.random.default_rng(frames)
    rows, folds = [], []
    for g in range(n_groups):
        for label in ("real", "fake"):
            video_id = f"v{g:02d}{label[0]}"
            np.save(root / f"{video_id}_c0.npy", rng.integers(0, 256, (frames, 16, 16, 3), dtype=np.uint8))
            rows.append({"clip_id": f"{video_id}_c0", "video_id": video_id, "copy": 0, "array": f"{video_id}_c0.npy", "frames": frames,
                         "height": 16, "width": 16, "status": "ok"})  # fmt: skip
            folds.append({"video_id": video_id, "group": f"g{g}", "label": label, "fold": g % 2})
    pd.DataFrame(rows).to_parquet(root / "manifest.parquet")
    return str(root / "manifest.parquet"), pd.DataFrame(folds)


def test_a_fold_does_not_resume_a_checkpoint_trained_on_other_clips(tmp_path):
    """Clip ids stay the same when a clipset changes (4 -> 8 frames): its checkpoint must not be continued."""
    from fvc.data.recipe import ClipRecipe
    from fvc.learners import make_plan
    from fvc.learners.torch_fit import fit_torch_fold

    params = {**get_spec("naive_cnn").default_params, "epochs": 3, "batch_size": 4, "min_epochs": 3}
    checkpoint = tmp_path / "last.pt"
    for frames, stop, expect in ((2, 0, None), (2, None, 0), (3, 0, None)):
        shard = tmp_path / f"clips_{frames}"
        shard.mkdir(exist_ok=True)
        manifest, folds = _clip_shard(shard, frames)
        plan = make_plan("naive_cnn", params, ClipRecipe("clip", frames=frames, size=16, scaling="crop", sampling="uniform"), seed=0)
        fit = fit_torch_fold(plan, manifests=[manifest], folds=folds, fold=0, checkpoint=checkpoint, progress=False,
                             stop_after_epoch=stop)  # fmt: skip
        # The same clips resume where the killed run stopped (epoch 0); other clips start again.
        assert fit.result.resumed_from == expect, (frames, stop)


def test_small_batches_keep_a_pretrained_backbones_batchnorm_statistics(tmp_path):
    """freeze_bn_below: below it the backbone's BatchNorm statistics stay as loaded; scratch training drops it."""
    from fvc.learners.torch_fit import train_config

    for batch, frozen in ((4, True), (8, False)):
        model = create("naive_cnn", pretrained=False)
        before = [b.running_mean.clone() for b in model.backbone.modules() if isinstance(b, torch.nn.BatchNorm2d)]
        cfg = TrainConfig(epochs=1, batch_size=batch, freeze_bn_below=8, precise_bn_batches=2)
        train(model, dataset(tmp_path), dataset(tmp_path, seed=1), cfg, checkpoint=tmp_path / f"{batch}.pt", progress=False)
        after = [b.running_mean for b in model.backbone.modules() if isinstance(b, torch.nn.BatchNorm2d)]
        assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True)) == frozen, batch
    assert train_config({"freeze_bn_below": 8, "pretrained": True}).freeze_bn_below == 8
    assert train_config({"freeze_bn_below": 8, "pretrained": False}).freeze_bn_below == 0


def test_grad_clip_zero_means_no_clipping(tmp_path):
    """``grad_clip: 0`` turns clipping off; it must not scale every gradient to zero."""
    model = create("naive_cnn", pretrained=False)
    before = weights(model)
    train(model, dataset(tmp_path, n=8), dataset(tmp_path, n=4, seed=1), TrainConfig(epochs=1, batch_size=4, warmup_epochs=0, grad_clip=0.0),
          checkpoint=tmp_path / "g.pt", progress=False)  # fmt: skip
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items() if v.is_floating_point())


def test_train_epoch_is_the_loop_train_runs(tmp_path):
    """engine.train_epoch (what benchmarks/bench_gpu.py times) on the loader's batches, with the optimizer,
    scaler, loss and schedule train() makes, leaves the weights and loss of one epoch of train(): accumulation
    over an odd number of batches included; on_step sees every batch with its running mean loss."""
    from fvc.train import engine
    from fvc.train.data import make_loader

    data = dataset(tmp_path, n=10)  # batch 2, accumulate 2: 5 batches, the last optimizer step after one batch
    cfg = TrainConfig(epochs=1, batch_size=2, accumulate=2, lr=3e-3, warmup_epochs=0, seed=0, min_epochs=1, precise_bn_batches=0, device="cpu")
    torch.manual_seed(0)
    trained = create("naive_cnn", pretrained=False)
    start = weights(trained)
    result = train(trained, data, data, cfg, checkpoint=tmp_path / "ck.pt", progress=False)

    stepped = create("naive_cnn", pretrained=False)
    stepped.load_state_dict(start)
    plan, device = BatchPlan(cfg.batch_size, cfg.accumulate), torch.device("cpu")
    optimizer = engine.make_optimizer(stepped, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(cfg, 3))
    loader = make_loader(data, plan.batch_size, shuffle=True, seed=cfg.seed)
    loader.batch_sampler.set_epoch(0)
    calls = []
    engine._seed_epoch(cfg.seed, 0)
    loss, _ = engine.train_epoch(stepped, loader, plan, cfg, optimizer=optimizer, scheduler=scheduler, scaler=engine.make_scaler(None),
                                 criterion=engine.make_criterion(data.labels, cfg, device), amp_dtype=engine.amp_dtype_for(device, cfg.amp),
                                 device=device, on_step=lambda step, batch_loss, mean: calls.append((step, batch_loss, mean)))  # fmt: skip
    assert loss == result.history["train_loss"].iloc[0]
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4] and calls[-1][2] == loss
    assert max(int(s["step"]) for s in optimizer.state.values()) == 3  # optimizer steps after batches 2, 4 and 5
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(stepped.state_dict()[key], value, rtol=0, atol=0, msg=key)
