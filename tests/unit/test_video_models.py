"""Spatio-temporal models: the real SlowFast and X3D, torchvision baselines, and the variable-aspect-ratio CNN."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from fvc.config import ConfigError
from fvc.settings import validate_config
from fvc.models import create, get_spec
from fvc.models.registry import model_kwargs
from fvc.models.nets.video3d import X3D
from fvc.train.data import ClipDataset
from fvc.train.engine import TrainConfig, train

CLIP = {"frames": 8, "size": 64}
SCRATCH = {"pretrained": False}  # the registry starts these from published weights; tests are offline


@pytest.mark.parametrize("name", ["slowfast", "x3d", "r3d", "r2plus1d", "variable_ar_cnn"])
def test_forward_backward_on_cpu(name):
    torch.manual_seed(0)
    model = create(name, **model_kwargs(name, SCRATCH, CLIP))
    logits = model(torch.randn(2, 3, 8, 64, 64))  # (B, C, T, H, W)
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    spec = get_spec(name)
    assert spec.kind == "torch" and spec.input == "clip" and spec.needs_gpu


@pytest.mark.parametrize("name", ["r3d", "r2plus1d"])
def test_torchvision_resnets_start_with_identity_residual_blocks(name):
    """Zero-initialised last BatchNorm per block: each block passes its input through (ReLU'd) at the start."""
    import torchvision.models.video as video

    torch.manual_seed(0)
    model = create(name, pretrained=False).train()
    blocks = [m for m in model.backbone.modules() if isinstance(m, video.resnet.BasicBlock)]
    assert len(blocks) == 8
    x = torch.randn(2, 64, 2, 8, 8)
    for block in blocks:
        if block.downsample is None and next(block.conv1.parameters()).shape[1] == x.shape[1]:
            torch.testing.assert_close(block(x.clone()), torch.relu(x))
            break
    else:
        raise AssertionError("no block without downsampling at 64 channels")
    assert all(float(b.conv2[1].weight.abs().sum()) == 0.0 for b in blocks)


@pytest.mark.parametrize("name", ["x3d", "variable_ar_cnn"])
def test_channels_last_weights_load_from_contiguous_state(name):
    """Channels-last 3D weights (faster on CPU) are a layout only: a contiguous state dict gives the same outputs."""
    torch.manual_seed(0)
    model = create(name, **model_kwargs(name, SCRATCH, {"frames": 4, "size": 32}))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last_3d) for c in convs)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    other = create(name, **model_kwargs(name, SCRATCH, {"frames": 4, "size": 32}))
    other.load_state_dict(state)
    x = torch.randn(2, 3, 4, 32, 48)
    torch.testing.assert_close(other.eval()(x), model.eval()(x))


@pytest.mark.parametrize("name", ["r3d", "r2plus1d"])
def test_torchvision_resnet_depths(name):
    """Depth 18 is torchvision's published network key for key; 10 and 34 use the same blocks, 1-1-1-1 and 3-4-6-3."""
    import torchvision.models.video as video
    import torchvision.models.video.resnet as resnet

    from fvc.models.video3d import RESNET_STAGES

    published = {k: v.shape for k, v in getattr(video, f"{name}_18")().state_dict().items() if not k.startswith("fc.")}
    assert {k: v.shape for k, v in create(name, depth=18, pretrained=False).backbone.state_dict().items()} == published
    for depth, stages in RESNET_STAGES.items():
        model = create(name, depth=depth, pretrained=False)
        blocks = [len(getattr(model.backbone, f"layer{i}")) for i in range(1, 5)]
        assert tuple(blocks) == stages and all(isinstance(b, resnet.BasicBlock) for b in model.backbone.layer1)
    with pytest.raises(ValueError, match="depth must be one of 10, 18, 34"):
        create(name, depth=50, pretrained=False)


def test_slowfast_pathways_get_the_right_frame_counts():
    model = create("slowfast", frames=16, size=64, alpha=4, model_depth=18, pretrained=False)
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


def test_resnet_depth_is_checked_when_the_config_is_read():
    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "config.yaml").read_text(encoding="utf-8"))
    assert config["model_params"]["r3d"]["depth"] == 10  # the embedded run's size
    config["model_params"]["r2plus1d"] = {"depth": 12}
    with pytest.raises(ConfigError, match=r"'model_params.r2plus1d.depth': 12 is not one of 10, 18, 34"):
        validate_config(copy.deepcopy(config))
