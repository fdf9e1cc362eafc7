"""Published weights: which models have them, where they come from, and the local cache that holds them.

``pretrained: true`` asks for a model's published weights: ImageNet for the timm backbones (``transfer``,
``vit_gru``, ``vit_transformer``; whatever timm's ``pretrained_cfg`` names for the chosen backbone),
Kinetics-400 for the video networks (torchvision's R3D-18 / R(2+1)D-18, PyTorchVideo's model-zoo SlowFast R50
and X3D-XS/S/M). A job reads them from the cache and never needs the network when it is filled;
``fvc weights pull`` fills it on a machine that has network access (a cluster's login node).

Cache layout (root: config ``weights.cache``, else ``$FVC_CACHE``, else ``~/.cache/fvc``)::

    <root>/weights/<source>/<file>          the publisher's file, byte for byte
    <root>/weights/<source>/<file>.sha256   its sha256, written when the download was verified

A file already in torch.hub's cache (``$TORCH_HOME/hub/checkpoints``) or the Hugging Face cache (``$HF_HOME``)
is used from there and not downloaded again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PUBLISHED", "CachedWeights", "PretrainedError", "PublishedWeights", "WeightsConfig", "WeightsUnavailable", "cached_weights", "cache_root",
    "catalogue", "pull", "pull_command", "published_for", "published_tags", "sha256_file", "timm_weights", "weights_for_config",
]  # fmt: skip

_KINETICS_TV = {"mean": (0.43216, 0.394666, 0.37645), "std": (0.22803, 0.22145, 0.216989)}  # torchvision's VideoClassification
_KINETICS_PTV = {"mean": (0.45, 0.45, 0.45), "std": (0.225, 0.225, 0.225)}  # PyTorchVideo's model zoo
_PTV_ROOT = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics"


class PretrainedError(RuntimeError):
    """Weights that cannot be loaded: missing file, or keys/shapes that do not fit the model."""


class WeightsUnavailable(PretrainedError):
    """Published weights that are neither cached nor downloadable here; the message says how to pull them."""


@dataclass(frozen=True)
class PublishedWeights:
    """One published checkpoint and what an fvc model needs to start from it."""

    tag: str  # what `fvc weights pull` and `pretrained: <tag>` accept
    models: tuple[str, ...]  # the fvc models it fits
    source: str  # torchvision | pytorchvideo | timm: the cache sub-folder, and the key layout of the file
    url: str
    filename: str
    licence: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    size_mb: float | None = None  # None when only known once downloaded
    size_approx: bool = False  # a parameter count x 4 bytes, not the publisher's figure
    # torchvision's file names carry the first hex digits of the file's sha256 (torch.hub's check_hash).
    sha256_prefix: str | None = None
    note: str = ""

    @property
    def norm(self) -> dict[str, tuple[float, ...]]:
        return {"mean": self.mean, "std": self.std}


# The video networks' published checkpoints (torchvision.models.video, pytorchvideo.models.hub). Sizes: torchvision's
# weights metadata; PyTorchVideo's model zoo parameter counts x 4 bytes.
PUBLISHED: dict[str, PublishedWeights] = {
    w.tag: w
    for w in (
        PublishedWeights("r3d_18.kinetics400", ("r3d",), "torchvision", "https://download.pytorch.org/models/r3d_18-b3b3357e.pth",
                         "r3d_18-b3b3357e.pth", "bsd-3-clause", **_KINETICS_TV, size_mb=127.4, sha256_prefix="b3b3357e",
                         note="depth 18"),  # fmt: skip
        PublishedWeights("r2plus1d_18.kinetics400", ("r2plus1d",), "torchvision", "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth",
                         "r2plus1d_18-91a641e6.pth", "bsd-3-clause", **_KINETICS_TV, size_mb=120.3, sha256_prefix="91a641e6",
                         note="depth 18"),  # fmt: skip
        PublishedWeights("slowfast_r50.kinetics400", ("slowfast",), "pytorchvideo", f"{_PTV_ROOT}/SLOWFAST_8x8_R50.pyth",
                         "SLOWFAST_8x8_R50.pyth", "apache-2.0", **_KINETICS_PTV, size_mb=138.3, size_approx=True,
                         note="model_depth 50, alpha 4, beta_inv 8 (8x8)"),  # fmt: skip
        PublishedWeights("x3d_xs.kinetics400", ("x3d",), "pytorchvideo", f"{_PTV_ROOT}/X3D_XS.pyth", "X3D_XS.pyth", "apache-2.0",
                         **_KINETICS_PTV, size_mb=15.2, size_approx=True, note="trained on 4x160 clips; clips of up to 12 frames"),  # fmt: skip
        PublishedWeights("x3d_s.kinetics400", ("x3d",), "pytorchvideo", f"{_PTV_ROOT}/X3D_S.pyth", "X3D_S.pyth", "apache-2.0",
                         **_KINETICS_PTV, size_mb=15.2, size_approx=True, note="trained on 13x160 clips; clips of 13-15 frames"),  # fmt: skip
        PublishedWeights("x3d_m.kinetics400", ("x3d",), "pytorchvideo", f"{_PTV_ROOT}/X3D_M.pyth", "X3D_M.pyth", "apache-2.0",
                         **_KINETICS_PTV, size_mb=15.2, size_approx=True, note="trained on 16x224 clips; clips of 16 frames or more"),  # fmt: skip
    )
}
# Which builder argument names the timm backbone of a timm-based model.
_TIMM_BACKBONE_PARAM = {"transfer": "backbone", "vit_gru": "vit", "vit_transformer": "vit"}


def published_tags() -> list[str]:
    return sorted(PUBLISHED)


def timm_weights(backbone: str) -> PublishedWeights | None:
    """The weights timm publishes for ``backbone`` (``resnet18`` or ``resnet18.tv_in1k``), from its pretrained_cfg."""
    import timm.models

    try:
        cfg = timm.models.get_pretrained_cfg(backbone)
    except (RuntimeError, ValueError):
        cfg = None
    if cfg is None or not cfg.hf_hub_id:
        return None
    repo = cfg.hf_hub_id
    filename = cfg.hf_hub_filename or "model.safetensors"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return PublishedWeights(
        tag=repo, models=tuple(_TIMM_BACKBONE_PARAM), source="timm", url=f"{endpoint}/{repo}/resolve/main/{filename}",
        filename=f"{repo.split('/', 1)[-1]}.{filename.rsplit('.', 1)[-1]}", licence=cfg.license or "see model card",
        mean=tuple(cfg.mean), std=tuple(cfg.std), note=f"timm '{backbone}', input {tuple(cfg.input_size)}",
    )  # fmt: skip


def published_for(name: str, kwargs: Mapping[str, Any], tag: str | None = None) -> PublishedWeights:
    """The published weights model ``name`` built with ``kwargs`` starts from (``tag`` picks one explicitly).

    Raises :class:`PretrainedError` saying which settings have published weights when none fit these.
    """
    if name in _TIMM_BACKBONE_PARAM:
        backbone = str(kwargs.get(_TIMM_BACKBONE_PARAM[name]))
        weights = timm_weights(backbone)
        if weights is None:
            raise PretrainedError(f"{name}: timm publishes no weights for backbone '{backbone}'; choose one `timm.list_pretrained()` lists")
        if tag not in (None, weights.tag):
            raise PretrainedError(f"{name}: weights '{tag}' are not backbone '{backbone}''s ({weights.tag}); set the backbone to '{tag.split('/')[-1]}'")
        return weights
    fitting = [w for w in PUBLISHED.values() if name in w.models]
    if not fitting:
        raise PretrainedError(f"{name}: no published weights exist for this model; set pretrained to false or a weights file")
    if tag is not None:
        if tag not in PUBLISHED or name not in PUBLISHED[tag].models:
            raise PretrainedError(f"{name}: unknown weights '{tag}'; published for {name}: {', '.join(w.tag for w in fitting)}")
        return PUBLISHED[tag]
    if name in ("r3d", "r2plus1d"):
        if kwargs.get("depth", 18) != 18:
            raise PretrainedError(f"{name}: published Kinetics weights exist at depth 18 only, not {kwargs.get('depth')}")
        return fitting[0]
    if name == "slowfast":
        if (kwargs.get("model_depth"), kwargs.get("alpha", 4), kwargs.get("beta_inv", 8)) != (50, 4, 8):
            raise PretrainedError("slowfast: published Kinetics weights (SlowFast 8x8 R50) need model_depth 50, alpha 4, beta_inv 8")
        return fitting[0]
    if name == "x3d":
        if (kwargs.get("depth_factor", 2.2), kwargs.get("width_factor", 2.0)) != (2.2, 2.0):
            raise PretrainedError("x3d: published Kinetics weights (X3D-XS/S/M) need depth_factor 2.2 and width_factor 2.0")
        frames = int(kwargs.get("frames") or 4)
        # The three share one architecture and differ by the clips they were trained on: the closest in length.
        return PUBLISHED["x3d_xs.kinetics400" if frames < 13 else "x3d_s.kinetics400" if frames < 16 else "x3d_m.kinetics400"]
    return fitting[0]


@dataclass(frozen=True)
class WeightsConfig:
    """Config ``weights``: where published weights are cached, and whether a job may download missing ones."""

    cache: Path
    download: bool = True

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> WeightsConfig:
        section = section or {}
        offline = os.environ.get("FVC_OFFLINE", "") not in ("", "0") or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        return cls(cache=cache_root(section.get("cache")), download=bool(section.get("download", True)) and not offline)


def cache_root(configured: str | os.PathLike[str] | None = None) -> Path:
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("FVC_CACHE") or Path.home() / ".cache" / "fvc").expanduser()


@dataclass(frozen=True)
class CachedWeights:
    """A verified local copy of published weights: what a model started from (metrics.json, registry)."""

    weights: PublishedWeights
    path: Path
    sha256: str

    def provenance(self) -> dict[str, str]:
        return {"tag": self.weights.tag, "source": self.weights.url, "file": str(self.path), "sha256": self.sha256}


def _cache_file(weights: PublishedWeights, root: Path) -> Path:
    return root / "weights" / weights.source / weights.filename


def _elsewhere(weights: PublishedWeights) -> Path | None:
    """The same file in torch.hub's cache ($TORCH_HOME) or the Hugging Face cache ($HF_HOME), if there."""
    if weights.source == "timm":
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        found = try_to_load_from_cache(weights.tag, weights.url.rsplit("/resolve/main/", 1)[-1])
        return Path(found) if isinstance(found, str) and Path(found).is_file() else None
    import torch.hub

    path = Path(torch.hub.get_dir()) / "checkpoints" / weights.filename
    return path if path.is_file() else None


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_prefix(weights: PublishedWeights, sha256: str, origin: str) -> None:
    if weights.sha256_prefix and not sha256.startswith(weights.sha256_prefix):
        raise WeightsUnavailable(
            f"{origin}: sha256 {sha256[:12]}... does not start with {weights.sha256_prefix}, the hash {weights.tag}'s publisher "
            "put in its file name: the file is corrupt, truncated or another checkpoint"
        )  # fmt: skip


def cached_weights(weights: PublishedWeights, config: WeightsConfig, model: str | None = None) -> CachedWeights:
    """The verified local file of ``weights``: from the cache, else torch.hub's / HF's cache, else downloaded.

    A cached file is checked against the sha256 recorded when it was pulled, so a truncated or overwritten file
    fails here rather than as a half-loaded model. Without the file and without the right to download
    (``weights.download: false``, ``FVC_OFFLINE=1``, ``HF_HUB_OFFLINE=1``) or network, raises
    :class:`WeightsUnavailable` with the ``fvc weights pull`` command that fills the cache.
    """
    path = _cache_file(weights, config.cache)
    record = path.with_name(path.name + ".sha256")
    if path.is_file() and record.is_file():
        sha256 = sha256_file(path)
        expected = record.read_text().split()[0]
        if sha256 != expected:
            raise WeightsUnavailable(
                f"cached weights '{path}' changed since they were pulled (sha256 {sha256[:12]}... instead of {expected[:12]}...): "
                f"delete the file and run `{pull_command(weights, config)}`"
            )  # fmt: skip
        return CachedWeights(weights, path, sha256)
    if path.is_file():
        # Put there by hand (copied from a machine with network access): checked as a download is, then recorded.
        sha256 = sha256_file(path)
        _check_prefix(weights, sha256, str(path))
        _write_record(path, sha256)
        return CachedWeights(weights, path, sha256)
    other = _elsewhere(weights)
    if other is not None:
        sha256 = sha256_file(other)
        _check_prefix(weights, sha256, str(other))
        return CachedWeights(weights, other, sha256)
    if not config.download:
        raise WeightsUnavailable(_missing_message(weights, config, model, "downloads are off here"))
    try:
        return pull(weights, config.cache)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise WeightsUnavailable(_missing_message(weights, config, model, f"download failed: {exc}")) from exc


def pull_command(weights: PublishedWeights, config: WeightsConfig) -> str:
    return f"fvc weights pull {weights.tag} --cache {config.cache}"


def _missing_message(weights: PublishedWeights, config: WeightsConfig, model: str | None, why: str) -> str:
    who = f"{model}: " if model else ""
    return (
        f"{who}published weights {weights.tag} are not in the cache {config.cache / 'weights' / weights.source} ({why}). "
        f"On a machine with network access (a cluster's login node) run:\n    {pull_command(weights, config)}\n"
        "or set pretrained to false (train from scratch) or to a local weights file."
    )


def pull(weights: PublishedWeights, root: Path, *, progress: bool = False, timeout: float = 30.0) -> CachedWeights:
    """Put ``weights`` in the cache under ``root`` (copied from torch.hub's / HF's cache when there, else downloaded).

    The file is written to a temporary name beside its destination, verified (complete, sha256 against the
    publisher's hash where one is published), then renamed: an interrupted pull leaves no partial file behind.
    """
    path = _cache_file(weights, root)
    record = path.with_name(path.name + ".sha256")
    if path.is_file() and record.is_file() and sha256_file(path) == record.read_text().split()[0]:
        return CachedWeights(weights, path, record.read_text().split()[0])  # already pulled, and intact
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            other = _elsewhere(weights)
            if other is not None:
                with open(other, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                published_sha = None
            else:
                published_sha = _download(weights.url, out, progress=progress, timeout=timeout)
        sha256 = sha256_file(tmp)
        _check_prefix(weights, sha256, weights.url)
        if published_sha and published_sha != sha256:
            raise WeightsUnavailable(f"{weights.url}: sha256 {sha256[:12]}... differs from the server's {published_sha[:12]}...")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _write_record(path, sha256)
    return CachedWeights(weights, path, sha256)


def _write_record(path: Path, sha256: str) -> None:
    """``<file>.sha256`` in ``sha256sum``'s format, written atomically."""
    record = path.with_name(path.name + ".sha256")
    fd, tmp_record = tempfile.mkstemp(dir=path.parent, prefix=f".{record.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(f"{sha256}  {path.name}\n")
    os.replace(tmp_record, record)


def _download(url: str, out: Any, *, progress: bool, timeout: float) -> str | None:
    """Stream ``url`` into ``out``; returns the sha256 the server states (Hugging Face's X-Linked-Etag), if any."""
    from tqdm import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "fvc-weights"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        etag = (response.headers.get("X-Linked-Etag") or "").strip('"')
        received = 0
        with tqdm(total=expected, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], disable=not progress) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                received += len(block)
                bar.update(len(block))
    if expected is not None and received != expected:
        raise OSError(f"{url}: download truncated ({received} of {expected} bytes)")
    return etag if re.fullmatch(r"[0-9a-f]{64}", etag) else None


def weights_for_config(config: Mapping[str, Any]) -> list[tuple[str, PublishedWeights]]:
    """``(model, weights)`` for every model of a workflow config that starts from published weights.

    Each model's weights are chosen from its resolved parameters (registry defaults, ``model_params``) and its
    clipset's geometry, as its training job chooses them; a model set to a weights file needs nothing pulled.
    """
    from fvc.models.registry import is_pretrained, model_kwargs, resolve_params

    needed = []
    for name in config.get("models") or ():
        # Only models with a `pretrained` parameter (torch backbones) can name published weights.
        params = resolve_params(name, (config.get("model_params") or {}).get(name))
        pretrained = params.get("pretrained")
        if not is_pretrained(pretrained):
            continue
        tag = None if pretrained in (True, "true", "True") else str(pretrained)
        if tag is not None and tag not in PUBLISHED and not tag.startswith("timm/"):
            continue  # a local file
        clipset = (config.get("clipsets") or {}).get(params.get("clipset"))
        needed.append((name, published_for(name, model_kwargs(name, params, clipset), tag)))
    return needed


def catalogue(root: Path) -> list[dict[str, Any]]:
    """``fvc weights list``'s rows: every published checkpoint a registered model can start from.

    timm models list the weights of their registry default backbone; any backbone timm publishes works.
    """
    from fvc.models.registry import get_spec, model_kwargs

    rows = []
    timm_defaults = {name: published_for(name, model_kwargs(name)) for name in _TIMM_BACKBONE_PARAM}
    entries = [(name, w) for name, w in timm_defaults.items()] + [(w.models[0], w) for w in PUBLISHED.values()]
    for model, weights in entries:
        path = _cache_file(weights, root)
        cached = path if path.is_file() else _elsewhere(weights)
        if cached is not None:
            size = f"{cached.stat().st_size / 1e6:.1f}"
        elif weights.source == "timm":
            size = f"~{_timm_parameters(weights.tag.split('/', 1)[-1]) * 4 / 1e6:.1f}"
        elif weights.size_mb is not None:
            size = f"{'~' if weights.size_approx else ''}{weights.size_mb:.1f}"
        else:
            size = "?"
        try:
            default = get_spec(model).default_params.get("pretrained") is True and published_for(model, model_kwargs(model)) == weights
        except PretrainedError:
            default = False
        rows.append({"model": model, "weights": weights.tag, "source": weights.source, "size_mb": size, "licence": weights.licence,
                     "cached": "yes" if cached is not None else "no", "default": "yes" if default else "", "note": weights.note,
                     "url": weights.url})  # fmt: skip
    return rows


def _timm_parameters(name: str) -> int:
    """Parameters of timm model ``name`` with its classifier, built on the meta device (no memory, no download)."""
    import timm
    import torch

    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    return sum(p.numel() for p in model.parameters())
