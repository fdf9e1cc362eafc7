"""Seed 003's image CNNs (deep_v1, deep_v2): shapes, the connections each variant claims, choices and errors."""

from __future__ import annotations

import copy

import pytest
import torch
import yaml
from torch import nn

from fvc.config import ConfigError
from fvc.settings import validate_config
from fvc.hpo.space import check_space_names
from fvc.models import create, get_spec
from fvc.models.nets.blocks import CBAM, BasicBlock, DenseBlock, HybridBlock, SqueezeExcite, Transition
from tests.conftest import REPO

VARIANTS = [
    ("deep_v1", {"variant": "plain"}),
    ("deep_v1", {"variant": "residual"}),
    ("deep_v2", {"architecture": "resnet"}),
    ("deep_v2", {"architecture": "densenet"}),
    ("deep_v2", {"architecture": "hybrid"}),
    ("deep_v2", {"architecture": "hybrid", "attention": "cbam"}),
    ("deep_v2", {"architecture": "resnet", "attention": "se"}),
]
IDS = ["-".join([name, *map(str, params.values())]) for name, params in VARIANTS]


def build(name: str, **params) -> nn.Module:
    torch.manual_seed(0)
    return create(name, **params)


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("shape", [(2, 4, 3, 32, 32), (1, 1, 3, 64, 64)], ids=["clip32", "still64"])
def test_forward_backward_shapes(name, params, shape):
    model = build(name, **params).train()
    logits = model(torch.randn(*shape))
    assert logits.shape == (shape[0], 2) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    # The pretrainable part the engine gives its own learning rate, and the head, split the parameters.
    backbone, head = {id(p) for p in model.backbone.parameters()}, {id(p) for p in model.head.parameters()}
    assert backbone and head and not backbone & head and backbone | head == {id(p) for p in model.parameters()}


@pytest.mark.parametrize(("name", "params"), VARIANTS[:5], ids=IDS[:5])
def test_frame_logits_are_averaged_and_size_is_free(name, params):
    """A clip scores the mean of its frames' logits; global pooling takes any size, 224 included, and 16."""
    model = build(name, **params).eval()
    clip = torch.randn(1, 3, 3, 40, 40)
    with torch.no_grad():
        frames = torch.stack([model(clip[:, t : t + 1]) for t in range(3)]).mean(dim=0)
        torch.testing.assert_close(model(clip), frames, rtol=1e-4, atol=1e-5)
        assert model(torch.randn(1, 1, 3, 224, 224)).shape == (1, 2)
        assert model(torch.randn(1, 1, 3, 16, 16)).shape == (1, 2)


def test_deep_v1_matches_seed():
    """4 blocks of 32-64-128-256 filters, max-pooling and dropout after each, GAP, an FC head; He init."""
    model = build("deep_v1", block_dropout=0.25, dropout=0.5)
    blocks = model.blocks
    assert [b.out_channels for b in blocks] == [32, 64, 128, 256]
    layers = list(model.backbone)
    for block in blocks:
        i = layers.index(block)
        assert isinstance(layers[i + 1], nn.MaxPool2d) and isinstance(layers[i + 2], nn.Dropout) and layers[i + 2].p == 0.25
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules()) == 8
    assert isinstance(layers[-2], nn.AdaptiveAvgPool2d)
    assert [m.out_features for m in model.head if isinstance(m, nn.Linear)] == [512, 2]
    conv = blocks[1].body[0][0]
    assert abs(conv.weight.std().item() - (2.0 / (32 * 9)) ** 0.5) < 0.01  # He: std sqrt(2 / fan_in)


def _zero_branch(block: BasicBlock) -> None:
    for module in block.body.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.zeros_(module.weight)


def test_residual_variant_has_skips_and_plain_has_none():
    """With its convolutions zeroed, a residual block still passes its input on (through the shortcut); a plain
    block gives a constant."""
    x = torch.rand(2, 3, 32, 32)
    residual = build("deep_v1", variant="residual").eval()
    plain = build("deep_v1", variant="plain").eval()
    for model in (residual, plain):
        _zero_branch(model.blocks[0])
    with torch.no_grad():
        block = residual.blocks[0]
        assert isinstance(block.shortcut, nn.Sequential)  # 3 -> 32 channels: a 1x1 projection
        out = block(x)
        torch.testing.assert_close(out, torch.relu(block.shortcut(x)))
        assert out.std() > 0.1
        assert plain.blocks[0](x).std() == 0
    assert all(isinstance(b.shortcut[0], nn.Conv2d) and b.shortcut[0].kernel_size == (1, 1) for b in residual.blocks)
    assert not any(hasattr(b, "shortcut") for b in plain.blocks)


def test_resnet_identity_shortcuts_pass_the_input_through():
    model = build("deep_v2", architecture="resnet").eval()
    blocks = [m for m in model.backbone.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 8 and sum(isinstance(b.shortcut, nn.Identity) for b in blocks) == 5  # 3 stage entries project
    block = next(b for b in blocks if isinstance(b.shortcut, nn.Identity))
    x = torch.rand(2, block.out_channels, 8, 8)  # post-ReLU activations are non-negative
    _zero_branch(block)
    with torch.no_grad():
        torch.testing.assert_close(block(x), x)


def test_identity_blocks_start_as_the_identity():
    """The BatchNorm ending a residual branch starts at 0 where the shortcut is the identity, at 1 behind a projection."""
    resnet = [m for m in build("deep_v2", architecture="resnet").modules() if isinstance(m, BasicBlock)]
    assert [float(b.last_bn.weight.abs().sum() > 0) for b in resnet] == [float(not isinstance(b.shortcut, nn.Identity)) for b in resnet]
    hybrid = [m for m in build("deep_v2", architecture="hybrid").modules() if isinstance(m, HybridBlock)]
    assert hybrid and all(h.last_bn.weight.abs().sum() == 0 for h in hybrid)
    v1 = build("deep_v1", variant="residual").blocks  # every block projects (3-32-64-128-256): all branches live
    assert all(torch.equal(b.last_bn.weight, torch.ones_like(b.last_bn.weight)) for b in v1)


def test_densenet_channels_grow_by_the_growth_rate():
    model = build("deep_v2", architecture="densenet", width=32, depth=2)
    blocks = [m for m in model.backbone.modules() if isinstance(m, DenseBlock)]
    assert [len(b.layers) for b in blocks] == [3, 6, 12, 8]  # DenseNet-121's 6-12-24-16, halved
    growth = 16
    for block in blocks:
        cin = block.layers[0].layers[0].num_features
        assert [layer.layers[0].num_features for layer in block.layers] == [cin + i * growth for i in range(len(block.layers))]
        assert block.out_channels == cin + len(block.layers) * growth
        x = torch.randn(2, cin, 4, 4)
        with torch.no_grad():
            out = block.eval()(x)
        assert out.shape[1] == block.out_channels and torch.equal(out[:, :cin], x)  # the input is carried on, concatenated
    transitions = [m for m in model.backbone.modules() if isinstance(m, Transition)]
    assert len(transitions) == 3 and all(t.out_channels == t[0].num_features // 2 for t in transitions)  # compression 0.5
    densenet_121 = build("deep_v2", architecture="densenet", depth=4).backbone.modules()
    assert [len(b.layers) for b in densenet_121 if isinstance(b, DenseBlock)] == [6, 12, 24, 16]


@pytest.mark.parametrize(("attention", "module"), [(None, SqueezeExcite), ("se", SqueezeExcite), ("cbam", CBAM)])
def test_hybrid_has_attention_depthwise_convs_dense_and_residual_connections(attention, module):
    model = build("deep_v2", architecture="hybrid", attention=attention)
    hybrids = [m for m in model.modules() if isinstance(m, HybridBlock)]
    assert len(hybrids) == 8 and all(isinstance(h.attention, module) for h in hybrids)
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert depthwise and all(m.groups == m.in_channels == m.out_channels for m in depthwise)
    block = hybrids[0]
    c = block.out_channels
    assert [layer[0][0].in_channels for layer in block.layers] == [c, c + c // 2]  # each layer reads all earlier ones
    x = torch.rand(2, c, 8, 8)
    nn.init.zeros_(block.fuse[0].weight)
    with torch.no_grad():
        torch.testing.assert_close(block.eval()(x), x)  # identity shortcut around the dense unit
    plain_resnet = build("deep_v2", architecture="resnet")
    assert not any(isinstance(m, (SqueezeExcite, CBAM)) for m in plain_resnet.modules())


def test_invalid_choices_name_the_allowed_values():
    assert get_spec("deep_v1").choices == {"variant": ("plain", "residual")}
    assert get_spec("deep_v2").choices["architecture"] == ("resnet", "densenet", "hybrid")
    with pytest.raises(ValueError, match=r"variant must be one of plain, residual, got 'resnet'"):
        create("deep_v1", variant="resnet")
    with pytest.raises(ValueError, match=r"architecture must be one of resnet, densenet, hybrid, got 'vgg'"):
        create("deep_v2", architecture="vgg")
    with pytest.raises(ValueError, match=r"attention must be one of se, cbam, none"):
        create("deep_v2", architecture="hybrid", attention="transformer")
    from fvc.models.nets.deep_cnn import DeepCNNv1, DeepCNNv2

    with pytest.raises(ValueError, match="plain, residual"):
        DeepCNNv1(variant="Residual")
    with pytest.raises(ValueError, match="resnet, densenet, hybrid"):
        DeepCNNv2(architecture="dense")


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))


def test_config_checks_choices_at_parse_time(config):
    config["models"] = [*config["models"], "deep_v1", "deep_v2"]
    config["model_params"] = {"deep_v1": {"variant": "residual"}, "deep_v2": {"architecture": "hybrid", "attention": "cbam"}}
    validate_config(copy.deepcopy(config))
    config["model_params"]["deep_v1"]["variant"] = "resnet"
    with pytest.raises(ConfigError, match=r"'model_params.deep_v1.variant': 'resnet' is not one of plain, residual"):
        validate_config(copy.deepcopy(config))
    config["model_params"] = {"deep_v2": {"architecture": "densnet"}}
    with pytest.raises(ConfigError, match=r"'model_params.deep_v2.architecture': 'densnet' is not one of resnet, densenet, hybrid"):
        validate_config(copy.deepcopy(config))


def test_hpo_searches_variants(config):
    check_space_names("deep_v1", {"variant": ["plain", "residual"], "block_dropout": [0.0, 0.2], "lr": [1e-3]})
    check_space_names("deep_v2", {"architecture": ["resnet", "densenet", "hybrid"], "attention": ["se", "cbam"], "width": [16, 32],
                                  "depth": [1, 2]})  # fmt: skip
    config["hpo"] = {"deep_v2": {"method": "grid", "space": {"architecture": ["resnet", "hybrid"]}}}
    validate_config(copy.deepcopy(config))
    config["hpo"]["deep_v2"]["space"]["architecture"].append("vit")
    with pytest.raises(ConfigError, match=r"'hpo.deep_v2.space.architecture': 'vit' is not one of resnet, densenet, hybrid"):
        validate_config(copy.deepcopy(config))


def test_fvc_models_lists_the_variants(capsys):
    from fvc.cli import main

    assert main(["models", "deep_v*", "--params"]) == 0
    out = capsys.readouterr().out
    assert "variant: plain (default) 1.31M | residual 1.35M" in out
    assert "architecture: resnet (default) 2.80M | densenet" in out and "| hybrid" in out
    assert main(["models", "naive_cnn"]) == 0
    assert "variant" not in capsys.readouterr().out
