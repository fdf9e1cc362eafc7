"""Spatio-temporal models: the real SlowFast and X3D, torchvision baselines, and the variable-aspect-ratio CNN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fvc.models import create, get_spec
from fvc.models.registry import model_kwargs
from fvc.models.nets.video3d import X3D
from fvc.train.data import ClipDataset
from fvc.train.engine import TrainConfig, train

CLIP = {"frames": 8, "size": 64}


@pytest.mark.parametrize("name", ["slowfast", "x3d", "r3d", "r2plus1d", "variable_ar_cnn"])
def test_forward_backward_on_cpu(name):
    torch.manual_seed(0)
    model = create(name, **model_kwargs(name, None, CLIP))
    logits = model(torch.randn(2, 3, 8, 64, 64))  # (B, C, T, H, W)
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    spec = get_spec(name)
    assert spec.kind == "torch" and spec.input == "clip" and spec.needs_gpu


def test_slowfast_pathways_get_the_right_frame_counts():
    model = create("slowfast", frames=16, size=64, alpha=4)
    slow, fast = model.pathways(torch.randn(1, 3, 16, 64, 64))
    assert slow.shape[2] == 4 and fast.shape[2] == 16
    torch.testing.assert_close(slow, fast[:, :, ::4])
    # the fast pathway carries 1/beta of the slow pathway's channels (beta = 1/8)
    stem = model.net.blocks[0].multipathway_blocks
    assert stem[0].conv.out_channels == 8 * stem[1].conv.out_channels


def test_slowfast_geometry_errors_name_the_config_key():
    with pytest.raises(ValueError, match=r"clip length 6 \(clipsets.<name>.frames\) must be a multiple of alpha=4"):
        create("slowfast", frames=6, size=64)
    with pytest.raises(ValueError, match="multiple of 32"):
        create("x3d", frames=8, size=100)


def test_x3d_m_has_the_published_parameter_count():
    model = X3D(frames=16, size=224, num_classes=400)
    params = sum(p.numel() for p in model.parameters())
    assert abs(params - 3.79e6) / 3.79e6 < 0.10, params


def test_variable_ar_cnn_trains_on_mixed_aspect_ratios_in_one_run(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i, (h, w) in enumerate([(112, 200), (256, 144)] * 4):
        path = tmp_path / f"c{i}.npy"
        np.save(path, rng.integers(0, 256, (4, h, w, 3), dtype=np.uint8))
        rows.append({"path": str(path), "label": i % 2, "frames": 4, "height": h, "width": w})
    data = ClipDataset(pd.DataFrame(rows), mean=(0.45,) * 3, std=(0.225,) * 3, layout="clip")
    assert {tuple(data[i][0].shape) for i in range(2)} == {(3, 4, 112, 200), (3, 4, 256, 144)}
    model = create("variable_ar_cnn", width=8)
    result = train(model, data, data, TrainConfig(epochs=1, batch_size=2), checkpoint=tmp_path / "ck.pt", progress=False)
    assert len(result.history) == 1 and np.isfinite(result.history["train_loss"]).all()
