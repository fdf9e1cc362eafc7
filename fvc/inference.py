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

__all__ = ["MODEL_FILES", "FoldModel", "export_model", "load_fold_models", "path_problem", "predict_files"]

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
    """Copy 0 of a file under ``recipe``: uint8 (T, H, W, 3), as the clips stage would have made it.

    As there, the probed display size fixes the letterbox geometry (a stream that changes resolution keeps
    one shape), and a clip with too many undecodable frames is refused with :class:`DecodeError`.
    """
    from fvc.data.clips import clip_substitutions

    info = probe(path)  # the index's checks, and the geometry the clips stage used
    table = frame_table(path)  # a still is a 1-frame table
    positions = sample_indices(table.count, recipe.frames, mode=recipe.sampling, stride=recipe.stride)
    transform = frame_transform(recipe.scaling, recipe.size, display_size=(info.width, info.height))
    substituted: list[int] = []
    clip = read_frames(path, positions, transform, table=table, substituted=substituted)
    reason = clip_substitutions(positions, substituted)[2]
    if reason:
        raise DecodeError(path, reason)
    return clip


# The file each kind of model is saved to (fvc.train.fold). A model is read only from its kind's file: a
# torch model's weights are loaded without unpickling anything, a scikit-learn model's file is a pickle.
MODEL_FILES = {"torch": "model.pt", "sklearn": "model.joblib"}


def load_fold_models(results: str | os.PathLike[str], model: str) -> list[FoldModel]:
    """Every fold of ``model`` under ``results/models/<model>``; only models this results folder holds.

    The file read is chosen by the model's registered kind (``model.pt`` for torch, ``model.joblib`` for
    scikit-learn), never by which file exists: a fold folder holding the other kind's file is refused before
    anything is loaded, so a torch model's name cannot lead to unpickling a ``model.joblib``.
    """
    from fvc.models import get_spec

    try:
        spec = get_spec(model)  # a registered name, never a path: "../x" cannot lead outside the results folder
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    model_dir = Path(results) / "models" / model
    folds = sorted(model_dir.glob("fold_*/training_complete"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not folds:
        raise FileNotFoundError(f"no trained folds of '{model}' under {model_dir} (run the workflow first)")
    expected = MODEL_FILES[spec.kind]
    loaded = []
    for marker in folds:
        fold_dir, fold = marker.parent, int(marker.parent.name.split("_")[1])
        foreign = [name for kind, name in MODEL_FILES.items() if kind != spec.kind and (fold_dir / name).exists()]
        if foreign:
            raise ValueError(
                f"{fold_dir} holds {foreign[0]}, but '{model}' is a {spec.kind} model (read from {expected} only); "
                f"refusing to load it: the folder was not written by training '{model}'"
            )
        if not (fold_dir / expected).is_file():
            raise FileNotFoundError(f"{fold_dir / expected} is missing ('{model}' is a {spec.kind} model); retrain fold {fold}")
        if spec.kind == "torch":
            import torch

            from fvc.train.fold import load_torch_model

            # Weights only: nothing is unpickled. The name is read first (memory-mapped, cheap): a file of
            # another model would otherwise fail deep inside load_state_dict.
            saved_name = torch.load(fold_dir / expected, map_location="cpu", weights_only=True, mmap=True).get("name")
            if saved_name != model:
                raise ValueError(f"{fold_dir / expected} holds model '{saved_name}', not '{model}'")
            net, saved = load_torch_model(fold_dir / expected)
            loaded.append(FoldModel(model, fold, "torch", net, _recipe(saved), default_cfg=saved["default_cfg"]))
        else:
            import joblib

            saved = joblib.load(fold_dir / expected)  # written by this workflow: see the README's warning
            loaded.append(FoldModel(model, fold, "sklearn", saved["model"], _recipe(saved), feature_names=saved["feature_names"]))
    return loaded


def predict_files(paths: list[str | os.PathLike[str]], models: list[FoldModel]) -> pd.DataFrame:
    """Mean P(fake) over fold models per file; a file that cannot be read gets its error, the rest go on."""
    rows = []
    for path in paths:
        row: dict[str, Any] = {"path": os.fspath(path), "model": models[0].name, "score": np.nan, "label": "", "error": ""}
        problem = path_problem(path)
        if problem:
            row["error"] = problem
            rows.append(row)
            continue
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


def path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be scored before opening it (missing, a folder, a FIFO or device...), else None.

    ``stat`` never blocks, whereas opening a FIFO waits for a writer: a pipe among the arguments would hang
    the command. Symbolic links are followed, so a link to a regular file is fine.
    """
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read file ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file")  # fmt: skip
    return f"not a regular file ({kind})"


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
