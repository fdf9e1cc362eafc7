"""Published weights, offline: checkpoints in each publisher's own layout load into fvc's models, through a
file and through the weights cache; wrong files and an empty cache without network fail before training."""

from __future__ import annotations

import dataclasses
import urllib.error
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from fvc.cli import main
from fvc.models import create, get_spec, hub
from fvc.models.hub import PretrainedError, WeightsConfig, WeightsUnavailable
from fvc.models.registry import model_kwargs
from fvc.models.weights import resolve_pretrained

PRETRAINED_MODELS = ("transfer", "vit_gru", "vit_transformer", "slowfast", "x3d", "r3d", "r2plus1d")
# Geometry that keeps every published tensor's shape (ViT at its 224 / 16-pixel patches and full depth); the
# clip size of the 3D networks only sets pooling windows, which have no weights.
BUILD = {
    "transfer": {"backbone": "resnet18"},
    "vit_gru": {"img_size": 224, "patch_size": 16, "depth": 12},
    "vit_transformer": {"img_size": 224, "patch_size": 16, "depth": 12},
    "slowfast": {"frames": 8, "size": 32},
    "x3d": {"frames": 4, "size": 32},
    "r3d": {"depth": 18},
    "r2plus1d": {"depth": 18},
}


def publisher_checkpoint(name: str, folder: Path) -> tuple[Path, dict[str, torch.Tensor], str]:
    """(file, its tensors, the fvc submodule they map onto) for ``name``'s published weights, built with the
    publisher's own model class and saved as the publisher ships it."""
    torch.manual_seed(1)
    if name in ("transfer", "vit_gru", "vit_transformer"):
        arch = "resnet18" if name == "transfer" else "vit_tiny_patch16_224"
        state = timm.create_model(arch, pretrained=False).state_dict()  # with its 1000-class head, as on the Hub
        path = folder / f"{arch}.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
        return path, state, "backbone"
    if name in ("r3d", "r2plus1d"):
        import torchvision.models.video as video

        state = getattr(video, f"{name}_18")().state_dict()
        path = folder / f"{name}_18.pth"
        torch.save(state, path)
        return path, state, "backbone"
    if name == "slowfast":
        from pytorchvideo.models.slowfast import create_slowfast

        state = create_slowfast(model_num_class=400).state_dict()
    else:
        from pytorchvideo.models.x3d import create_x3d

        state = create_x3d(input_clip_length=4, input_crop_size=160, model_num_class=400).state_dict()
    path = folder / f"{name}.pyth"
    torch.save({"model_state": state, "epoch": 196}, path)  # PyTorchVideo's model-zoo checkpoint layout
    return path, state, "net"


def assert_backbone_equals_file(model: torch.nn.Module, state: dict[str, torch.Tensor], target: str) -> int:
    """Every tensor of the file but the classifier is in the model, equal; returns how many were compared."""
    own = getattr(model, target).state_dict()
    # The publisher's classifier (timm's and torchvision's fc / ViT head, PyTorchVideo's last projection) is
    # replaced by a 2-class head; everything else must be the file's.
    head = ("fc.", "head.") if target == "backbone" else (f"blocks.{len(model.net.blocks) - 1}.proj.",)
    compared = 0
    for key, value in state.items():
        if key.startswith(head):
            continue
        assert key in own, key
        assert torch.equal(own[key], value), key
        compared += 1
    return compared


def cache_entry(name: str, path: Path, monkeypatch: pytest.MonkeyPatch) -> hub.PublishedWeights:
    """The model's catalogue entry, served from ``path`` (a file:// URL) instead of the publisher's server."""
    kwargs = model_kwargs(name, BUILD[name])
    weights = hub.published_for(name, kwargs)
    local = dataclasses.replace(weights, url=path.as_uri(), sha256_prefix=None)
    if weights.source == "timm":
        monkeypatch.setattr(hub, "timm_weights", lambda backbone: local)
    else:
        monkeypatch.setitem(hub.PUBLISHED, weights.tag, local)
    return local


@pytest.mark.parametrize("name", PRETRAINED_MODELS)
def test_publisher_checkpoint_loads_by_file_and_through_the_cache(name, tmp_path, monkeypatch):
    assert get_spec(name).default_params["pretrained"] is True  # the registry starts it from published weights
    path, state, target = publisher_checkpoint(name, tmp_path)
    by_file = create(name, **BUILD[name], pretrained=str(path))
    assert assert_backbone_equals_file(by_file, state, target) > 10

    # pretrained: true -> the cache. `fvc weights pull` fills it (here from a local URL), and the model is then
    # built with downloads off: the cache alone serves it.
    weights = cache_entry(name, path, monkeypatch)
    cache = tmp_path / "cache"
    assert main(["weights", "pull", name, "--cache", str(cache), "--quiet"]) == 0
    cached = cache / "weights" / weights.source / weights.filename
    assert cached.is_file() and (cached.parent / f"{cached.name}.sha256").read_text().split()[0] == hub.sha256_file(path)
    monkeypatch.setenv("FVC_CACHE", str(cache))
    monkeypatch.setenv("FVC_OFFLINE", "1")
    monkeypatch.setattr(hub, "_download", _no_network)
    from_cache = create(name, **BUILD[name])
    assert_backbone_equals_file(from_cache, state, target)
    found, record = resolve_pretrained(name, True, model_kwargs(name, BUILD[name]), WeightsConfig.from_config(None))
    assert found == cached and record.provenance()["sha256"] == hub.sha256_file(path)


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("network is unreachable")


@pytest.mark.parametrize(("name", "other"), [("transfer", "vit_gru"), ("vit_gru", "transfer"), ("vit_transformer", "transfer"), ("slowfast", "x3d"),
                                             ("x3d", "slowfast"), ("r3d", "r2plus1d"), ("r2plus1d", "r3d")])  # fmt: skip
def test_a_checkpoint_of_another_model_fails_naming_keys(name, other, tmp_path):
    path, _, _ = publisher_checkpoint(other, tmp_path)
    with pytest.raises(PretrainedError, match=r"do not fit .*(missing|unexpected): \S+\.(weight|bias)"):
        create(name, **BUILD[name], pretrained=str(path))


def test_published_weights_need_the_published_depth(tmp_path):
    path, _, _ = publisher_checkpoint("r3d", tmp_path)
    with pytest.raises(PretrainedError, match=r"unexpected: layer1\.1\."):
        create("r3d", depth=10, pretrained=str(path))
    with pytest.raises(PretrainedError, match="depth 18 only"):
        create("r3d", depth=10, pretrained=True)
    with pytest.raises(PretrainedError, match="model_depth 50"):
        create("slowfast", frames=8, size=32, model_depth=18, pretrained=True)


@pytest.mark.parametrize("name", ["r3d", "transfer", "x3d"])
def test_empty_cache_without_network_fails_before_training_with_the_pull_command(name, tmp_path, monkeypatch):
    monkeypatch.setenv("FVC_CACHE", str(tmp_path / "empty"))
    monkeypatch.delenv("FVC_OFFLINE")
    monkeypatch.setattr(hub, "_download", _no_network)
    tag = hub.published_for(name, model_kwargs(name, BUILD[name])).tag
    with pytest.raises(WeightsUnavailable, match=rf"download failed: .*network is unreachable.*\n +fvc weights pull {tag} --cache {tmp_path / 'empty'}"):
        create(name, **BUILD[name])
    assert not list((tmp_path / "empty").rglob("*.part")), "a failed download leaves no partial file"
    monkeypatch.setenv("FVC_OFFLINE", "1")  # downloads off: no attempt, the same advice
    with pytest.raises(WeightsUnavailable, match=rf"downloads are off here.*\n +fvc weights pull {tag} "):
        create(name, **BUILD[name])


def test_a_training_job_fails_before_its_first_epoch_when_weights_are_missing(tmp_path, monkeypatch):
    """The fold's plan resolves the weights, before training reads data or writes a checkpoint."""
    from fvc.data.recipe import ClipRecipe
    from fvc.learners import make_plan

    monkeypatch.setattr(hub, "_download", _no_network)
    with pytest.raises(WeightsUnavailable, match="fvc weights pull r3d_18.kinetics400 --cache"):
        make_plan("r3d", {"depth": 18}, ClipRecipe("clip", frames=4, size=32, scaling="crop"), seed=0,
                  weights=WeightsConfig(cache=tmp_path / "cache", download=False))  # fmt: skip


def test_a_changed_cache_file_or_a_wrong_hash_is_refused(tmp_path, monkeypatch):
    path, _, _ = publisher_checkpoint("x3d", tmp_path)
    weights = cache_entry("x3d", path, monkeypatch)
    cache = tmp_path / "cache"
    pulled = hub.pull(weights, cache)
    config = WeightsConfig(cache=cache, download=False)
    assert hub.cached_weights(weights, config).sha256 == pulled.sha256
    with open(pulled.path, "r+b") as f:  # truncated after the pull
        f.truncate(1000)
    with pytest.raises(WeightsUnavailable, match=r"changed since they were pulled .*fvc weights pull x3d_xs.kinetics400"):
        hub.cached_weights(weights, config)
    # A publisher's hash prefix (torchvision's file names) that the download does not match: nothing is cached.
    wrong = dataclasses.replace(weights, sha256_prefix="00000000", filename="wrong.pyth")
    with pytest.raises(WeightsUnavailable, match="does not start with 00000000"):
        hub.pull(wrong, cache)
    assert not (cache / "weights" / "pytorchvideo" / "wrong.pyth").exists()
    assert not list(cache.rglob("*.part"))


def test_weights_list_shows_every_pretrained_model(capsys):
    assert main(["weights", "list", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.strip().splitlines()
    assert header.split(",")[:5] == ["model", "weights", "source", "size_mb", "licence"]
    assert {row.split(",")[0] for row in rows} == set(PRETRAINED_MODELS)
    assert "https://download.pytorch.org/models/r3d_18-b3b3357e.pth" in out and "X3D_M.pyth" in out
    assert "timm/resnet18.a1_in1k" in out


def test_pull_for_a_config_takes_each_models_weights(tmp_path, monkeypatch):
    """`--config`: only the models a config starts from published weights, each at its own settings."""
    path, _, _ = publisher_checkpoint("x3d", tmp_path)
    cache_entry("x3d", path, monkeypatch)
    config = tmp_path / "mine.yaml"
    config.write_text("models: [naive_cnn, x3d, r3d]\nmodel_params:\n  x3d: {pretrained: true}\n  r3d: {pretrained: false}\n")
    assert [(m, w.tag) for m, w in hub.weights_for_config(__import__("fvc.cli", fromlist=["_workflow_config"])._workflow_config([config]))] == [
        ("x3d", "x3d_xs.kinetics400")]  # fmt: skip
    assert main(["weights", "pull", "--config", str(config), "--cache", str(tmp_path / "c"), "--quiet"]) == 0
    assert (tmp_path / "c" / "weights" / "pytorchvideo" / "X3D_XS.pyth").is_file()


def test_a_fold_records_the_weights_it_started_from_and_normalises_as_they_were_trained(tmp_path, monkeypatch):
    import json

    from fvc.data.recipe import ClipRecipe
    from fvc.learners import ClipSource, make_plan
    from fvc.learners.fold import train_fold
    from tests.unit.test_engine import _clip_shard

    path, state, _ = publisher_checkpoint("transfer", tmp_path)
    weights = cache_entry("transfer", path, monkeypatch)
    cache = tmp_path / "cache"
    hub.pull(weights, cache)
    shard = tmp_path / "clips"
    shard.mkdir()
    manifest, folds = _clip_shard(shard, 2)
    folds.to_parquet(tmp_path / "folds.parquet")
    params = {**get_spec("transfer").default_params, "epochs": 1, "batch_size": 4, "min_epochs": 1}
    plan = make_plan("transfer", params, ClipRecipe("clip", frames=2, size=16, scaling="crop"), seed=0, weights=WeightsConfig(cache=cache, download=False))
    metrics = train_fold(plan, ClipSource(manifests=[manifest]), folds_path=tmp_path / "folds.parquet", fold=0, out_dir=tmp_path / "fold_0",
                         checkpoint=tmp_path / "last.pt", progress=False)  # fmt: skip
    record = json.loads((tmp_path / "fold_0" / "metrics.json").read_text())["pretrained_weights"]
    assert record == metrics["pretrained_weights"]
    assert record["tag"] == weights.tag and record["sha256"] == hub.sha256_file(path) and record["source"] == path.as_uri()
    saved = torch.load(tmp_path / "fold_0" / "model.pt", map_location="cpu", weights_only=True)
    assert tuple(saved["default_cfg"]["mean"]) == weights.mean and tuple(saved["default_cfg"]["std"]) == weights.std


def test_weights_already_in_torch_hubs_cache_are_used_without_a_download(tmp_path, monkeypatch):
    """$TORCH_HOME/hub/checkpoints (where torch.hub and PyTorchVideo put them) counts as cached."""
    path, state, target = publisher_checkpoint("x3d", tmp_path)
    weights = hub.published_for("x3d", model_kwargs("x3d", BUILD["x3d"]))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "torch" / "hub" / "checkpoints" / weights.filename).write_bytes(path.read_bytes())
    monkeypatch.setattr(hub, "_download", _no_network)
    found = hub.cached_weights(weights, WeightsConfig(cache=tmp_path / "empty", download=False))
    assert found.path.parent == tmp_path / "torch" / "hub" / "checkpoints" and found.sha256 == hub.sha256_file(path)
    assert_backbone_equals_file(create("x3d", **BUILD["x3d"]), state, target)


def test_a_file_copied_into_the_cache_by_hand_is_checked_and_recorded(tmp_path, monkeypatch):
    """scp'd from a login node instead of pulled: verified like a download (publisher hash prefix), then recorded."""
    path, _, _ = publisher_checkpoint("r3d", tmp_path)
    weights = hub.published_for("r3d", {"depth": 18})
    target = tmp_path / "cache" / "weights" / "torchvision" / weights.filename
    target.parent.mkdir(parents=True)
    target.write_bytes(path.read_bytes())
    config = WeightsConfig(cache=tmp_path / "cache", download=False)
    with pytest.raises(WeightsUnavailable, match=f"does not start with {weights.sha256_prefix}"):
        hub.cached_weights(weights, config)  # not the published file: its hash is not the one in the file name
    monkeypatch.setitem(hub.PUBLISHED, weights.tag, dataclasses.replace(weights, sha256_prefix=hub.sha256_file(path)[:8]))
    found = hub.cached_weights(hub.PUBLISHED[weights.tag], config)
    assert found.path == target and (target.parent / f"{target.name}.sha256").read_text().split()[0] == found.sha256
