"""Scoring new files with trained fold models, and exporting a torch fold model to TorchScript or ONNX.

A model file carries its clipset recipe, so a new video is decoded, sampled and scaled exactly as the
training clips were, and feature models compute the same feature columns in the same order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fvc.data.recipe import ClipRecipe
from fvc.io.video import DecodeError
from fvc.learners import Learner, load_fold_learners
from fvc.learners.torch_learner import EXPORT_SUFFIXES

__all__ = [
    "FoldModel",
    "InputError",
    "expand_inputs",
    "export_model",
    "load_fold_models",
    "path_problem",
    "predict_files",
    "predict_table",
    "resolve_models",
    "trained_models",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoldModel:
    """One fold's trained model, ready to score files: its fold number and its learner."""

    fold: int
    learner: Learner

    @property
    def name(self) -> str:
        return self.learner.name

    @property
    def kind(self) -> str:
        return self.learner.kind

    @property
    def model(self) -> Any:
        return self.learner.model

    @property
    def recipe(self) -> ClipRecipe:
        return self.learner.plan.recipe

    def score(self, path: str | os.PathLike[str]) -> float:
        """P(fake) for one file; raises :class:`DecodeError` for a file that cannot be used."""
        return self.learner.score_file(path)


def load_fold_models(results: str | os.PathLike[str], model: str) -> list[FoldModel]:
    """Every fold of ``model`` under ``results/models/<model>``; only models this results folder holds.

    Each fold's model file is the one ``model``'s learner writes (:func:`fvc.learners.load_learner`): a fold
    folder holding another kind's file is refused before anything is loaded.
    """
    return [FoldModel(fold, learner) for fold, learner in load_fold_learners(results, model)]


def predict_files(paths: list[str | os.PathLike[str]], models: list[FoldModel]) -> pd.DataFrame:
    """Mean P(fake) over fold models per file; a file that cannot be read gets its error, the rest go on."""
    return pd.DataFrame([_score_row(os.fspath(path), models) for path in paths])


def _score_row(path: str, models: list[FoldModel]) -> dict[str, Any]:
    """One output row: ``path`` scored by every fold of one model.

    The file is decoded once per fold model (each carries its own clip recipe) and nothing is kept, so memory
    stays at one clip however many files are scored. ``n_folds`` counts the folds behind ``score`` (0 when the
    file could not be used), so a reader can tell a mean of five folds from a mean of one.
    """
    row: dict[str, Any] = {"path": path, "model": models[0].name, "score": np.nan, "label": "", "n_folds": 0, "error": ""}
    problem = path_problem(path)
    if problem:
        row["error"] = problem
        return row
    try:
        scores = [m.score(path) for m in models]
        row.update(score=float(np.mean(scores)), label="fake" if np.mean(scores) >= 0.5 else "real", n_folds=len(scores),
                   **{f"fold_{m.fold}": s for m, s in zip(models, scores, strict=True)})  # fmt: skip
    except DecodeError as exc:
        row["error"] = exc.reason
    except OSError as exc:
        row["error"] = f"cannot read file ({exc.strerror or exc})"
    return row


class InputError(ValueError):
    """An argument of ``fvc predict`` that cannot name anything to score (a missing folder or sheet, an empty
    folder, a sheet without a ``path`` column). Raised before any model is loaded: loading fold models can take
    long, and a typo should cost nothing."""


# Columns expand_inputs may add beside ``path``. The truth is ``true_label``: ``label`` is the prediction (the
# column fvc predict has always written), and a table that compares the two needs both.
INPUT_COLUMNS = ("true_label", "group", "family")


def expand_inputs(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """The files ``paths`` stand for: columns ``path``, ``error`` and, where known, ``true_label``/``group``/``family``.

    - a CSV file (``.csv``) is a sample sheet read as the workflow reads one (:func:`fvc.data.sources.read_sheet`:
      paths relative to the sheet's folder, a ``path,label[,group[,family]]`` header); its label, and its group
      and family when the sheet has those columns, are kept so scores can be compared with them. Rows the
      workflow would refuse (missing file, path outside the sheet's folder, bad label, duplicate) become rows
      with their reason in ``error``, after the sheet's usable rows;
    - a folder stands for every video or image below it (the workflow's suffixes, hidden names skipped), sorted
      by path; with a ``real/`` or ``fake/`` subfolder the files there are labelled as the workflow's folder
      input labels them (:func:`fvc.data.sources.discover_folder`), and the files it would refuse get their
      reason in ``error``;
    - anything else is one file, tried as given, as ``fvc predict`` always did: a missing ``x.mp4``, a FIFO or a
      folder named like a media file gets an error row while the other files are scored.

    A missing path that is not named like a media file (a mistyped folder or sheet), a folder without any media
    file, and a sheet that cannot be read or lacks a required column raise :class:`InputError`: there is nothing
    to score, and silently scoring nothing would look like success. Order follows ``paths``.
    """
    from fvc.data.sources import MEDIA_SUFFIXES

    parts: list[pd.DataFrame] = []
    for raw in paths:
        path = Path(raw)
        is_media_name = path.suffix.lower() in MEDIA_SUFFIXES
        if not os.path.lexists(path) and not is_media_name:
            raise InputError(f"{path}: no such file or folder")
        if path.suffix.lower() == ".csv" and path.is_file():
            parts.append(_expand_sheet(path))
        elif path.is_dir() and not is_media_name:
            parts.append(_expand_folder(path))
        else:
            parts.append(pd.DataFrame({"path": [os.fspath(raw)], "error": [""]}))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"path": [], "error": []})
    for column in INPUT_COLUMNS:
        if column in table.columns:
            table[column] = table[column].fillna("")
    table["error"] = table["error"].fillna("")
    return table[["path", *[c for c in INPUT_COLUMNS if c in table.columns], "error"]]


def _expand_sheet(sheet: Path) -> pd.DataFrame:
    from fvc.config import ConfigError
    from fvc.data.sources import read_sheet

    try:
        samples, rejections = read_sheet(sheet)
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    # read_sheet fills in a default group and family; report them only when the sheet itself has the column.
    header = {str(c).strip() for c in pd.read_csv(sheet, nrows=0, dtype=str, skipinitialspace=True).columns}
    rows = []
    for sample in samples:
        row = {"path": os.fspath(sample.file), "true_label": sample.label, "error": ""}
        row.update({key: getattr(sample, key) for key in ("group", "family") if key in header})
        rows.append(row)
    root = sheet.parent
    for rejection in rejections:
        # A rejection names the file relative to the sheet's folder, except one outside it (named as written)
        # and a row without any path ("<line N>").
        name = rejection.path
        outside = "outside the data root" in rejection.reason or name.startswith("<line ")
        rows.append({"path": name if outside else os.fspath(root / name), "error": rejection.reason})
    return pd.DataFrame(rows, columns=["path", "true_label", *[k for k in ("group", "family") if k in header], "error"])


def _expand_folder(folder: Path) -> pd.DataFrame:
    from fvc.config import ConfigError
    from fvc.data.sources import LABELS, MEDIA_SUFFIXES, discover_folder

    # The same walk and hidden-name rule as discover_folder, so that a file is found or skipped alike by both.
    listed = {}
    for file in folder.rglob("*"):
        rel = file.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or file.is_dir() or file.suffix.lower() not in MEDIA_SUFFIXES:
            continue
        listed[rel.as_posix()] = {"path": os.fspath(file), "error": ""}
    if not listed:
        raise InputError(f"{folder}: no video or image files in this folder (looked for {', '.join(sorted(MEDIA_SUFFIXES))})")
    if any((folder / label).is_dir() for label in LABELS):
        try:
            samples, rejections = discover_folder(folder)
        except ConfigError as exc:  # a race with the folder's removal; nothing else is left to refuse here
            raise InputError(str(exc)) from None
        for sample in samples:
            listed.setdefault(sample.relpath, {"path": os.fspath(sample.file), "error": ""})["true_label"] = sample.label
        for rejection in rejections:
            if rejection.path in listed:  # a file of another type is skipped, as in any folder
                listed[rejection.path]["error"] = rejection.reason
    return pd.DataFrame([listed[rel] for rel in sorted(listed)])


def trained_models(results: str | os.PathLike[str]) -> list[str]:
    """Models with at least one finished fold under ``results/models`` (a ``fold_*/training_complete`` marker), sorted.

    A folder whose name is not a registered model (left by an older fvc, or copied in) is skipped with a
    warning instead of failing ``--model all``: it could not be loaded anyway.
    """
    from fvc.models import list_models

    registered = set(list_models())
    found = sorted(p.name for p in (Path(results) / "models").glob("*") if p.is_dir() and any(p.glob("fold_*/training_complete")))
    for name in found:
        if name not in registered:
            log.warning("skipping %s: '%s' is not a registered model", Path(results) / "models" / name, name)
    return [name for name in found if name in registered]


def resolve_models(results: str | os.PathLike[str], spec: str) -> list[str]:
    """The model names ``--model`` means: one name, a comma-separated list (order kept, repeats dropped) or ``all``.

    Only ``all`` looks at the results folder; named models are checked when they are loaded, so an unknown or
    untrained name gets the loader's message.
    """
    if spec.strip() == "all":
        names = trained_models(results)
        if not names:
            raise FileNotFoundError(f"no trained models under {Path(results) / 'models'} (run the workflow first)")
        return names
    names = list(dict.fromkeys(part.strip() for part in spec.split(",") if part.strip()))
    if not names:
        raise ValueError(f"--model '{spec}' names no model")
    return names


def predict_table(
    inputs: pd.DataFrame,
    results: str | os.PathLike[str],
    models: Sequence[str],
    *,
    progress: bool = False,
) -> pd.DataFrame:
    """Score every row of ``inputs`` (:func:`expand_inputs`) with every model: one row per (file, model).

    All models are loaded first, so a broken model folder is reported before any file is decoded rather than
    after minutes of scoring; they stay in memory together (their weights only: clips are decoded one at a
    time and dropped). Rows are file-major, so one file's scores by different models sit together. A file
    ``inputs`` already refused keeps its reason and is not opened.
    """
    loaded = [load_fold_models(results, name) for name in models]
    from tqdm import tqdm

    known = [c for c in INPUT_COLUMNS if c in inputs.columns]
    rows: list[dict[str, Any]] = []
    # disable=None: tqdm itself turns the bar off when standard error is not a terminal (a log, a pipe).
    for entry in tqdm(inputs.to_dict("records"), desc="predict", unit="file", disable=None if progress else True):
        for folds in loaded:
            if entry.get("error"):
                row = {"path": entry["path"], "model": folds[0].name, "score": np.nan, "label": "", "n_folds": 0, "error": entry["error"]}
            else:
                row = _score_row(entry["path"], folds)
            rows.append(row | {key: entry[key] for key in known})
    fixed = ["path", "model", "score", "label", "n_folds", "error", *known]
    table = pd.DataFrame(rows, columns=list(dict.fromkeys(fixed + [k for row in rows for k in row])))
    folds_cols = sorted((c for c in table.columns if c.startswith("fold_")), key=lambda c: int(c.split("_")[1]))
    return table[fixed + folds_cols].astype({"n_folds": "int64"})


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
    """Export one fold model (the kinds that can be exported: torch) and check it against the original: path and max abs diff."""
    fold_model = next((m for m in load_fold_models(results, model) if m.fold == fold), None)
    if fold_model is None:
        raise FileNotFoundError(f"fold {fold} of '{model}' is not trained under {results}")
    suffix = EXPORT_SUFFIXES.get(fmt, "")
    target = Path(out) if out else Path(results) / "exports" / model / f"fold_{fold}{suffix}"
    report = fold_model.learner.export(fmt, target)
    log.info("exported %s fold %d to %s (max abs diff %.3g)", model, fold, report["path"], report["max_abs_diff"])
    return report
