"""The torch learner: a network trained by :mod:`fvc.train.engine` on clip shards, saved as weights only.

torch is imported when a torch learner fits, scores, saves or loads, never when this module is imported: the
workflow reads :attr:`TorchLearner.reads` at parse time, and a scikit-learn job should not pay for torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fvc.data.recipe import ClipRecipe
from fvc.io.atomic import atomic_path
from fvc.learners.base import ClipSource, FitOutcome, Learner
from fvc.learners.plan import ModelPlan, recipe_dict, saved_recipe
from fvc.models.hub import WeightsConfig
from fvc.models.registry import get_spec

__all__ = ["TorchLearner"]

EXPORT_SUFFIXES = {"torchscript": ".pt", "onnx": ".onnx"}


class TorchLearner(Learner):
    """A ``torch.nn.Module`` returning two logits (real, fake) per clip."""

    kind = "torch"
    model_file = "model.pt"
    reads = "clips"
    reports_epochs = True

    @classmethod
    def make_plan(cls, name: str, params: Mapping[str, Any], recipe: ClipRecipe, *, seed: int,
                  weights: WeightsConfig | None = None) -> ModelPlan:  # fmt: skip
        from fvc.learners.torch_fit import plan_torch

        return plan_torch(name, params, recipe, seed=seed, weights=weights)

    @staticmethod
    def search_rounds(cv_folds: int) -> int:
        return 1  # a training run takes minutes: one search fold unless hpo.cv_rounds asks for more

    def fit(self, source: ClipSource, folds: pd.DataFrame, fold: int, *, threads: int = 1,
            checkpoint: str | os.PathLike[str] | None = None, tracker: Any | None = None, progress: bool = True,
            stop_after_epoch: int | None = None) -> FitOutcome:  # fmt: skip
        from fvc.learners.torch_fit import fit_torch_fold

        if checkpoint is None:
            raise ValueError(f"model '{self.name}' trains by epochs: a checkpoint path is required")
        fit = fit_torch_fold(self.plan, manifests=source.manifest_paths(self.name), folds=folds, fold=fold, checkpoint=checkpoint,
                             threads=threads, tracker=tracker, progress=progress, stop_after_epoch=stop_after_epoch)  # fmt: skip
        self.model = fit.model
        metrics = {"best_epoch": fit.result.best_epoch, "early_stopping": {"monitor": fit.monitor, "smoothed_value": fit.result.best_score},
                   "oom_backoffs": fit.result.backoffs,
                   "n_fit_videos": fit.n_fit_videos, "n_early_stopping_videos": fit.n_early_stopping_videos,
                   "pretrained_weights": fit.pretrained}  # fmt: skip
        return FitOutcome(fit.predictions, threshold=fit.threshold, history=fit.result.history, metrics=metrics)

    def _batch(self, clip: np.ndarray) -> Any:
        import torch

        from fvc.train.data import normalise

        tensor = normalise(torch.from_numpy(clip), self.plan.norm["mean"], self.plan.norm["std"])
        if self.plan.layout == "clip":
            tensor = tensor.permute(1, 0, 2, 3)
        return tensor[None]

    def score_clips(self, source: ClipSource, labels: pd.Series) -> pd.DataFrame:
        from fvc.train.data import ClipDataset, clip_rows
        from fvc.train.engine import predict

        rows = clip_rows(source.manifest_paths(self.name), labels)
        rows = rows[rows["copy"] == 0]
        dataset = ClipDataset(rows, mean=self.plan.norm["mean"], std=self.plan.norm["std"], layout=self.plan.layout)
        scores, _ = predict(self.model.eval(), dataset, batch_size=8) if len(rows) else (np.empty(0), None)
        return pd.DataFrame({"video_id": rows["video_id"].to_numpy(), "copy": 0, "label": rows["label"].to_numpy(), "score": scores})

    def score_file(self, path: str | os.PathLike[str]) -> float:
        import torch

        from fvc.data.clips import read_clip

        tensor = self._batch(read_clip(path, self.plan.recipe))
        with torch.no_grad():
            return float(torch.softmax(self.model(tensor), dim=1)[0, 1])

    def save(self, fold_dir: str | os.PathLike[str]) -> Path:
        import torch

        target = Path(fold_dir) / self.model_file
        with atomic_path(target) as tmp:
            state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
            torch.save({"name": self.name, "kwargs": dict(self.plan.kwargs), "state_dict": state, "default_cfg": dict(self.plan.norm),
                        "clip_recipe": recipe_dict(self.plan.recipe)}, tmp)  # fmt: skip
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], name: str) -> TorchLearner:
        import torch

        from fvc.learners.torch_fit import input_layout, load_torch_model

        # Weights only: nothing is unpickled. The name is read first (memory-mapped, cheap): a file of another
        # model would otherwise fail deep inside load_state_dict.
        saved_name = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("name")
        if saved_name != name:
            raise ValueError(f"{path} holds model '{saved_name}', not '{name}'")
        net, saved = load_torch_model(path)
        plan = ModelPlan(get_spec(name), {}, saved_recipe(saved), kwargs=dict(saved["kwargs"]), norm=dict(saved["default_cfg"]),
                         layout=input_layout(name))  # fmt: skip
        return cls(plan, net)

    def export(self, fmt: str, target: str | os.PathLike[str]) -> dict[str, Any]:
        """TorchScript (traced) or ONNX, checked against PyTorch on a random batch of two clips: path and max abs diff."""
        import torch

        if fmt not in EXPORT_SUFFIXES:
            raise ValueError(f"unknown export format '{fmt}' (known: {', '.join(EXPORT_SUFFIXES)})")
        net, recipe, target = self.model.eval(), self.plan.recipe, Path(target)
        shape = (2, recipe.frames, 3, recipe.size, recipe.size)
        if self.plan.layout == "clip":
            shape = (2, 3, recipe.frames, recipe.size, recipe.size)
        example = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            reference = net(example).numpy()
        target.parent.mkdir(parents=True, exist_ok=True)
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
        return {"path": str(target), "format": fmt, "max_abs_diff": float(np.abs(got - reference).max()), "input_shape": list(shape)}
