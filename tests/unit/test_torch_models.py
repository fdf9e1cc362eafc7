"""Torch models: forward/backward at tiny sizes, and offline pretrained-weight loading with clear errors."""

from __future__ import annotations

import re

import pytest
import timm
import torch

from fvc.models import create, get_spec, list_models
from fvc.models.weights import PretrainedError, create_backbone
from tests.conftest import REPO

TINY = {
    "naive_cnn": {},
    "vit_gru": {"img_size": 32, "vit": "vit_tiny_patch16_224", "pretrained": False},
    "vit_transformer": {"img_size": 32, "vit": "vit_tiny_patch16_224", "pretrained": False},
    "transfer": {"backbone": "resnet18", "pretrained": False},
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_forward_backward_on_cpu(name):
    torch.manual_seed(0)
    model = create(name, **TINY[name])
    model.train()
    if hasattr(model, "on_epoch_start"):
        model.on_epoch_start(5)  # everything thawed
    x = torch.randn(2, 3, 3, 32, 32)  # (B, T, C, H, W)
    logits = model(x)
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    logits.sum().backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None for p in trainable)
    spec = get_spec(name)
    assert spec.kind == "torch" and spec.input == "frames" and {"mean", "std"} <= set(spec.default_cfg)


def test_deep_models_are_registered():
    assert {"naive_cnn", "vit_gru", "vit_transformer", "transfer"} <= set(list_models())
    assert get_spec("vit_gru").needs_gpu and not get_spec("naive_cnn").needs_gpu


def test_naive_cnn_architecture_matches_seed():
    model = create("naive_cnn", dropout=0.5)  # the seed's dropout; the registry default is 0.3 (docs/training.md)
    convs = [m.out_channels for m in model.backbone if isinstance(m, torch.nn.Conv2d)]
    linears = [(m.in_features, m.out_features) for m in model.head if isinstance(m, torch.nn.Linear)]
    dropout = [m.p for m in model.head if isinstance(m, torch.nn.Dropout)]
    assert convs == [32, 64, 128] and linears == [(128, 64), (64, 2)] and dropout == [0.5]


def test_vit_heads_match_seed():
    gru = create("vit_gru", img_size=32, pretrained=False)
    assert (gru.sequence.hidden_size, gru.sequence.num_layers) == (256, 2)
    tf = create("vit_transformer", img_size=32, pretrained=False)
    layer = tf.sequence.layers[0]
    assert len(tf.sequence.layers) == 2 and layer.self_attn.num_heads == 8 and layer.self_attn.embed_dim == 192


def test_vit_gru_reads_frame_changes():
    """The GRU's input is each frame's embedding and its change from the previous frame (0 for the first)."""
    gru = create("vit_gru", img_size=32, pretrained=False).eval()
    assert gru.sequence.input_size == 2 * gru.backbone.num_features
    seen = []
    gru.sequence.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    clip = torch.rand(1, 1, 3, 32, 32).expand(1, 3, 3, 32, 32)  # three identical frames: no change
    gru(clip)
    width = gru.backbone.num_features
    assert torch.equal(seen[0][..., width:], torch.zeros(1, 3, width)) and seen[0][..., :width].abs().sum() > 0
    with pytest.raises(ValueError, match="frame_deltas"):
        from fvc.models.nets.vit_temporal import ViTTemporal

        ViTTemporal("transformer", img_size=32, patch_size=8, depth=1, frame_deltas=True)


def test_a_model_saved_before_a_parameter_existed_loads_as_it_was_built(tmp_path):
    """A model.pt whose kwargs predate ``global_pool`` / ``frame_deltas`` is rebuilt with the old behaviour."""
    from fvc.learners.torch_fit import load_torch_model

    old_kwargs = {"img_size": 32, "patch_size": 8, "depth": 1, "vit": "vit_tiny_patch16_224"}
    old = create("vit_gru", **old_kwargs, global_pool="token", frame_deltas=False, pretrained=False)
    torch.save({"name": "vit_gru", "kwargs": old_kwargs, "state_dict": old.state_dict()}, tmp_path / "model.pt")
    model, _ = load_torch_model(tmp_path / "model.pt")
    assert model.backbone.global_pool == "token" and not model.frame_deltas
    clip = torch.rand(2, 3, 3, 32, 32)
    assert torch.equal(model(clip), old.eval()(clip))
    # Today's saved kwargs name both, so a new model loads as trained.
    new = create("vit_gru", **old_kwargs, pretrained=False)
    torch.save({"name": "vit_gru", "kwargs": {**old_kwargs, "global_pool": "max", "frame_deltas": True}, "state_dict": new.state_dict()},
               tmp_path / "new.pt")  # fmt: skip
    assert load_torch_model(tmp_path / "new.pt")[0].frame_deltas
    # Weights that fit no such build: the error names the file and the build, not only torch's tensor list.
    torch.save({"name": "vit_gru", "kwargs": old_kwargs, "state_dict": new.state_dict()}, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match=r"mismatch\.pt: its weights do not fit 'vit_gru' built with .*frame_deltas"):
        load_torch_model(tmp_path / "mismatch.pt")


def test_legacy_params_must_be_builder_parameters():
    from fvc.models.registry import register_model

    with pytest.raises(ValueError, match="legacy_params for parameters the builder does not take"):

        @register_model(kind="torch", input="clip", legacy_params={"no_such_param": 1})
        def legacy_probe(*, width: int = 1) -> None:
            return None

    assert get_spec("vit_gru").legacy_params == {"global_pool": "token", "frame_deltas": False}
    assert get_spec("naive_cnn").legacy_params == {"global_pool": "avg"}


def test_transfer_progressive_unfreezing(tmp_path):
    weights_file = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18", num_classes=0).state_dict(), weights_file)
    model = create("transfer", backbone="resnet18", pretrained=str(weights_file), freeze_epochs=1, unfreeze_every=1)
    model.on_epoch_start(0)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    model.on_epoch_start(1)
    thawed = [any(p.requires_grad for p in stage.parameters()) for stage in model.stages]
    assert thawed[-1] and not thawed[0]
    model.train()
    assert not model.stages[0].training  # frozen BatchNorm keeps its statistics
    model.on_epoch_start(100)
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_transfer_from_scratch_trains_every_stage_from_the_first_epoch():
    # Freezing a random backbone would only train a head on random features.
    model = create("transfer", backbone="resnet18", pretrained=False, freeze_epochs=3)
    for epoch in (0, 1):
        model.on_epoch_start(epoch)
        assert all(p.requires_grad for p in model.backbone.parameters())


def test_pretrained_path_loads_into_timm_backbone(tmp_path):
    source = timm.create_model("resnet18", pretrained=False, num_classes=1000)
    path = tmp_path / "resnet18_imagenet.pth"
    torch.save(source.state_dict(), path)
    model = create("transfer", backbone="resnet18", pretrained=str(path))
    torch.testing.assert_close(model.backbone.conv1.weight, source.conv1.weight)
    torch.testing.assert_close(model.backbone.layer4[1].bn2.running_var, source.layer4[1].bn2.running_var)


def test_pretrained_vit_checkpoint_resampled_to_clip_size(tmp_path):
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    path = tmp_path / "vit.pth"
    torch.save(source.state_dict(), path)
    model = create("vit_gru", img_size=32, patch_size=16, pretrained=str(path))
    torch.testing.assert_close(model.backbone.blocks[3].attn.qkv.weight, source.blocks[3].attn.qkv.weight)
    assert model.backbone.pos_embed.shape[1] == 1 + (32 // 16) ** 2
    # The default 4-pixel patches for small clips: patch embedding and position grid are both resampled.
    small = create("vit_gru", img_size=32, pretrained=str(path))
    assert small.backbone.patch_embed.proj.weight.shape[-2:] == (4, 4)
    assert small.backbone.pos_embed.shape[1] == 1 + (32 // 4) ** 2
    torch.testing.assert_close(small.backbone.blocks[3].attn.qkv.weight, source.blocks[3].attn.qkv.weight)


def test_pretrained_vit_checkpoint_fills_a_shallower_vit(tmp_path):
    """The registry's 4-block ViTs take a 12-block checkpoint's first 4 blocks; a checkpoint with fewer fails."""
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    path = tmp_path / "vit.pth"
    torch.save(source.state_dict(), path)
    model = create("vit_transformer", img_size=32, depth=4, pretrained=str(path))
    assert len(model.backbone.blocks) == 4
    torch.testing.assert_close(model.backbone.blocks[3].mlp.fc2.weight, source.blocks[3].mlp.fc2.weight)
    torch.testing.assert_close(model.backbone.norm.weight, source.norm.weight)
    shallow = tmp_path / "vit_2_blocks.pth"
    torch.save(timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=2).state_dict(), shallow)
    with pytest.raises(PretrainedError, match=r"missing: blocks\.2\."):
        create("vit_gru", img_size=32, depth=4, pretrained=str(shallow))


def test_mismatched_or_missing_weights_fail_clearly(tmp_path):
    other = tmp_path / "resnet34.pth"
    torch.save(timm.create_model("resnet34", pretrained=False).state_dict(), other)
    with pytest.raises(PretrainedError, match="do not fit backbone 'resnet18'"):
        create_backbone("resnet18", str(other))
    with pytest.raises(PretrainedError, match="does not exist"):
        create("transfer", pretrained=str(tmp_path / "nope.pth"))


def test_naive_cnn_weights_round_trip_and_mismatch(tmp_path):
    trained = create("naive_cnn")
    path = tmp_path / "naive.pt"
    torch.save({"state_dict": trained.state_dict()}, path)
    again = create("naive_cnn", pretrained=str(path))
    torch.testing.assert_close(again.head[0].weight, trained.head[0].weight)
    broken = {k: v for k, v in trained.state_dict().items() if not k.startswith("head.3")}
    broken["backbone.0.weight"] = torch.zeros(16, 3, 3, 3)
    torch.save(broken, path)
    with pytest.raises(PretrainedError, match=r"missing: head\.3\.bias, head\.3\.weight; shape mismatch: backbone\.0\.weight"):
        create("naive_cnn", pretrained=str(path))


def test_every_torch_load_is_weights_only():
    offenders = []
    for path in [*REPO.glob("fvc/**/*.py"), *REPO.glob("scripts/*.py"), *REPO.glob("benchmarks/*.py")]:
        for match in re.finditer(r"torch\.load\(([^()]*(?:\([^()]*\)[^()]*)*)\)", path.read_text()):
            if "weights_only=True" not in match.group(1):
                offenders.append(f"{path.relative_to(REPO)}: {match.group(0)}")
    assert not offenders, offenders


def test_reading_the_registry_imports_neither_torch_nor_scikit_learn():
    """Every DAG build reads every spec; the networks' libraries load only when a model is built."""
    import subprocess
    import sys

    code = (
        "import sys, fvc.models as m\n"
        "specs = [m.get_spec(n) for n in m.list_models()]\n"
        "assert len(specs) >= 13, specs\n"
        "heavy = sorted({'torch', 'timm', 'torchvision', 'sklearn', 'pytorchvideo'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
