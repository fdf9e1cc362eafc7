"""Where the videos come from: a folder with ``real/`` and ``fake/`` subfolders, or a sample sheet.

Both produce the same list of :class:`Sample` plus a list of :class:`Rejection` for entries that cannot
even be tried (missing file, unknown label, path escaping the data root, duplicate). Nothing here opens a
video; probing is the index's job.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fvc.config import ConfigError, validate_sample_row
from fvc.io.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

__all__ = ["LABELS", "Rejection", "Sample", "discover_folder", "load_samples", "read_sheet", "video_id"]

LABELS = ("real", "fake")
MEDIA_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES


@dataclass(frozen=True)
class Sample:
    """One input file. ``relpath`` (POSIX, relative to the data root) is its identity."""

    file: Path
    relpath: str
    label: str
    group: str
    family: str

    @property
    def video_id(self) -> str:
        return video_id(self.relpath)


@dataclass(frozen=True)
class Rejection:
    path: str
    reason: str
    stage: str = "index"

    @property
    def video_id(self) -> str:
        return video_id(self.path)


def video_id(relpath: str) -> str:
    """Stable id: the first 16 hex digits of SHA-1 of the path relative to the data root.

    Independent of list order, machine and absolute location, so results stay keyed correctly when the
    corpus grows or moves.
    """
    return hashlib.sha1(relpath.encode("utf-8")).hexdigest()[:16]


def load_samples(kind: str, path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> tuple[list[Sample], list[Rejection]]:
    """Dispatch on ``input.kind``: ``folder`` scans, ``sheet`` and ``synth`` read a sample sheet."""
    if kind == "folder":
        return discover_folder(path)
    if kind == "sheet":
        return read_sheet(path, root)
    if kind == "synth":
        return read_sheet(Path(path) / "samples.csv", root or path)
    raise ConfigError(f"config key 'input.kind': unknown kind '{kind}' (known: synth, folder, sheet)")


def discover_folder(root: str | os.PathLike[str]) -> tuple[list[Sample], list[Rejection]]:
    """Every file under ``root/real`` and ``root/fake`` (recursively); hidden files are skipped."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"config key 'input.path': data folder '{root}' does not exist")
    missing = [label for label in LABELS if not (root / label).is_dir()]
    if len(missing) == len(LABELS):
        raise ConfigError(f"config key 'input.path': '{root}' has neither a real/ nor a fake/ subfolder")
    samples: list[Sample] = []
    rejections: list[Rejection] = []
    real_root = root.resolve()
    for label in LABELS:
        for file in sorted((root / label).rglob("*")):
            relpath = file.relative_to(root).as_posix()
            if any(part.startswith(".") for part in file.relative_to(root).parts) or file.is_dir():
                continue
            reason = _path_problem(file, real_root)
            if reason is None and file.suffix.lower() not in MEDIA_SUFFIXES:
                reason = f"unsupported file type '{file.suffix or '(none)'}'"
            if reason:
                rejections.append(Rejection(relpath, reason))
                continue
            samples.append(Sample(file, relpath, label, group=video_id(relpath), family="unknown" if label == "fake" else "none"))
    return samples, rejections


def read_sheet(sheet: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> tuple[list[Sample], list[Rejection]]:
    """Read a CSV sample sheet (``path,label[,group[,family]]``); bad rows are rejected, not fatal.

    A sheet without the required columns, or that cannot be parsed at all, is a configuration error.
    """
    sheet = Path(sheet)
    root = Path(root) if root is not None else sheet.parent
    try:
        table = pd.read_csv(sheet, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise ConfigError(f"config key 'input.path': sample sheet '{sheet}' does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"sample sheet '{sheet}': cannot parse ({exc})") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("path", "label") if c not in table.columns]
    if missing:
        raise ConfigError(f"sample sheet '{sheet}': missing column(s) {', '.join(missing)} (have: {', '.join(table.columns)})")
    unknown = sorted(set(table.columns) - {"path", "label", "group", "family"})
    if unknown:
        raise ConfigError(f"sample sheet '{sheet}': unknown column(s) {', '.join(unknown)}")
    real_root = root.resolve()
    samples: list[Sample] = []
    rejections: list[Rejection] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(table.to_dict("records"), start=2):
        raw = (row.get("path") or "").strip()
        where = f"sample sheet '{sheet.name}' line {line}"
        record = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in row.items()}
        try:
            validate_sample_row(record, where)
        except ConfigError as exc:
            rejections.append(Rejection(raw or f"<line {line}>", str(exc)))
            continue
        file = Path(raw) if Path(raw).is_absolute() else root / raw
        relpath = _relative_posix(file, root)
        if relpath in seen:
            rejections.append(Rejection(relpath, f"{where}: duplicate of line {seen[relpath]}"))
            continue
        seen[relpath] = line
        reason = _path_problem(file, real_root)
        if reason is None and file.suffix.lower() not in MEDIA_SUFFIXES:
            reason = f"unsupported file type '{file.suffix or '(none)'}'"
        if reason:
            rejections.append(Rejection(relpath, f"{where}: {reason}"))
            continue
        label = record["label"]
        group = record.get("group") or video_id(relpath)
        family = record.get("family") or ("none" if label == "real" else "unknown")
        samples.append(Sample(file, relpath, label, group, family))
    return samples, rejections


def _relative_posix(file: Path, root: Path) -> str:
    """The path relative to ``root``, normalised lexically: ``real/../real/x.mp4`` is ``real/x.mp4``.

    Lexical only (symlinks are not followed), so the id names what the user wrote; the index catches the
    same file reached through a link by its resolved path and content. A path outside the root (rejected
    later) is returned as written, so its rejection names what the sheet says.
    """
    try:
        return Path(os.path.normpath(file)).relative_to(Path(os.path.normpath(root))).as_posix()
    except ValueError:
        return file.as_posix()


def _path_problem(file: Path, real_root: Path) -> str | None:
    """Why ``file`` cannot be used, or None. Resolves symlinks so a link cannot smuggle in outside files."""
    if not os.path.lexists(file):
        return "file not found"
    resolved = file.resolve()
    if not resolved.is_relative_to(real_root):
        what = "symlink points" if file.is_symlink() else "path lies"
        return f"{what} outside the data root ({real_root})"
    if not resolved.exists():
        return "broken symlink"
    if not resolved.is_file():
        return "not a regular file"
    if not os.access(resolved, os.R_OK):
        return "permission denied"
    return None
