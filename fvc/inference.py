"""Scoring new files with trained fold models, and exporting a torch fold model to TorchScript or ONNX.

A model file carries its clipset recipe, so a new video is decoded, sampled and scaled exactly as the
training clips were, and feature models compute the same feature columns in the same order.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fvc.config import ClipRecipe
from fvc.io.scaling import frame_transform
from fvc.io.video import DecodeError, frame_table, probe, read_frames, sample_indices

__all__ = ["FoldModel", "export_model", "load_fold_models", "predict_files"]

log = logging.getLogger(__name__)


@dataclass
class FoldModel:
    """One fold's trained model, ready to score clips."""

    name: str
    fold: int
    kind: str  # "sklearn" or "torch"
    model: Any
    recipe: ClipRecipe
    feature_names: list[str] | None = None
    default_cfg: dict[str, Any] | None = None

    def score(self, path: str | os.PathLike[str]) -> float:
        """P(fake) for one file; raises :class:`DecodeError` for a file that cannot be used."""
        clip = read_clip(path, self.recipe)
        if self.kind == "sklearn":
            from fvc.data.clips import clip_geometry
            from fvc.features.extract import clip_table_row

            info = probe(path)
            geo = clip_geometry(self.recipe, info.width, info.height)  # measure the picture, not letterbox bars
            content = clip[:, geo.pad_top : geo.pad_top + geo.content_height, geo.pad_left : geo.pad_left + geo.content_width]
            row = clip_table_row(content, info)
            x = np.array([[row.get(name, np.nan) for name in self.feature_names]], dtype=np.float64)
            classes = list(self.model.classes_)
            return float(self.model.predict_proba(x)[0, classes.index(1)])
        import torch

        from fvc.train.data import normalise

        from fvc.train.torch_fit import input_layout

        tensor = normalise(torch.from_numpy(clip), self.default_cfg["mean"], self.default_cfg["std"])
        if input_layout(self.name) == "clip":
            tensor = tensor.permute(1, 0, 2, 3)
        tensor = tensor[None]
        with torch.no_grad():
            return float(torch.softmax(self.model(tensor), dim=1)[0, 1])


def read_clip(path: str | os.PathLike[str], recipe: ClipRecipe) -> np.ndarray:
    """Copy 0 of a file under ``recipe``: uint8 (T, H, W, 3), as the clips stage would have made it."""
    table = frame_table(path) if Path(path).suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff") else None
    total = table.count if table is not None else 1
    positions = sample_indices(total, recipe.frames, mode=recipe.sampling, stride=recipe.stride)
    return read_frames(path, positions, frame_transform(recipe.scaling, recipe.size), table=table)


def load_fold_models(results: str | os.PathLike[str], model: str) -> list[FoldModel]:
    """Every fold of ``model`` under ``results/models/<model>``; only models this results folder holds."""
    from fvc.models import get_spec

    get_spec(model)  # a registered name, never a path: "../x" cannot lead outside the results folder
    model_dir = Path(results) / "models" / model
    folds = sorted(model_dir.glob("fold_*/training_complete"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not folds:
        raise FileNotFoundError(f"no trained folds of '{model}' under {model_dir} (run the workflow first)")
    loaded = []
    for marker in folds:
        fold_dir, fold = marker.parent, int(marker.parent.name.split("_")[1])
        if (fold_dir / "model.pt").exists():
            from fvc.train.fold import load_torch_model

            net, saved = load_torch_model(fold_dir / "model.pt")
            loaded.append(FoldModel(model, fold, "torch", net, _recipe(saved), default_cfg=saved["default_cfg"]))
        else:
            import joblib

            saved = joblib.load(fold_dir / "model.joblib")  # written by this workflow: see the README's warning
            loaded.append(FoldModel(model, fold, "sklearn", saved["model"], _recipe(saved), feature_names=saved["feature_names"]))
    return loaded


def predict_files(paths: list[str | os.PathLike[str]], models: list[FoldModel]) -> pd.DataFrame:
    """Mean P(fake) over fold models per file; a file that cannot be read gets its error, the rest go on."""
    rows = []
    for path in paths:
        row: dict[str, Any] = {"path": os.fspath(path), "model": models[0].name, "score": np.nan, "label": "", "error": ""}
        try:
            scores = [m.score(path) for m in models]
            row.update(score=float(np.mean(scores)), label="fake" if np.mean(scores) >= 0.5 else "real",
                       **{f"fold_{m.fold}": s for m, s in zip(models, scores, strict=True)})  # fmt: skip
        except DecodeError as exc:
            row["error"] = exc.reason
        except OSError as exc:
            row["error"] = f"cannot read file ({exc.strerror or exc})"
        rows.append(row)
    return pd.DataFrame(rows)


def export_model(results: str | os.PathLike[str], model: str, fold: int, fmt: str, out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Export one torch fold model and check it against PyTorch on a random clip: path and max abs diff."""
    import torch

    fold_model = next((m for m in load_fold_models(results, model) if m.fold == fold), None)
    if fold_model is None:
        raise FileNotFoundError(f"fold {fold} of '{model}' is not trained under {results}")
    if fold_model.kind != "torch":
        raise ValueError(f"'{model}' is a scikit-learn model; export applies to torch models")
    net = fold_model.model.eval()
    recipe = fold_model.recipe
    from fvc.train.torch_fit import input_layout

    shape = (2, recipe.frames, 3, recipe.size, recipe.size)
    if input_layout(model) == "clip":
        shape = (2, 3, recipe.frames, recipe.size, recipe.size)
    example = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = net(example).numpy()
    suffix = {"torchscript": ".pt", "onnx": ".onnx"}
    if fmt not in suffix:
        raise ValueError(f"unknown export format '{fmt}' (known: torchscript, onnx)")
    target = Path(out) if out else Path(results) / "exports" / model / f"fold_{fold}{suffix[fmt]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    from fvc.io.atomic import atomic_path

    if fmt == "torchscript":
        with torch.no_grad():
            scripted = torch.jit.trace(net, example)
        with atomic_path(target) as tmp:
            scripted.save(str(tmp))
        exported = torch.jit.load(str(target)).eval()
        with torch.no_grad():
            got = exported(example).numpy()
    else:
        import onnxruntime

        with atomic_path(target) as tmp:
            torch.onnx.export(net, (example,), str(tmp), dynamo=True, input_names=["clip"], output_names=["logits"],
                              dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},), verbose=False)  # fmt: skip
        session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
        got = session.run(None, {"clip": example.numpy()})[0]
    diff = float(np.abs(got - reference).max())
    log.info("exported %s fold %d to %s (max abs diff %.3g)", model, fold, target, diff)
    return {"path": str(target), "format": fmt, "max_abs_diff": diff, "input_shape": list(shape)}


def _recipe(saved: dict[str, Any]) -> ClipRecipe:
    recipe = dict(saved.get("clip_recipe") or {})
    if not recipe:
        raise ValueError(f"model file of '{saved.get('name')}' has no clip recipe (trained with an older fvc); retrain it")
    return ClipRecipe(name="predict", **recipe)
