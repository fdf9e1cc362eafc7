"""Atomic file writes: a temp file in the target's directory, then ``os.replace``.

A job killed mid-write (SIGKILL, a SLURM time limit, a node failure) then leaves either the old file or the
new one, never half of one, so Snakemake's "output exists" check can be trusted on rerun.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pandas as pd

__all__ = ["atomic_path", "atomic_write", "sweep_orphans", "write_json", "write_parquet", "write_text"]

# What atomic_path names its temp files: ".<target name>.<mkstemp's 8 characters>.tmp<target suffix>".
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[^.]+)?$")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    For writers that insist on a file name (``np.save``, ``DataFrame.to_parquet``, PyAV's muxer). The temp
    name keeps the target's suffix so that format detection by extension still works.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync_file(tmp)
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temp file for writing; it atomically becomes ``path`` when the block exits without error."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding) as handle:
        yield handle


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    with atomic_write(path) as handle:
        json.dump(obj, handle, indent=2, sort_keys=True, default=_json_default)
        handle.write("\n")


def write_parquet(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def sweep_orphans(root: str | os.PathLike[str]) -> list[Path]:
    """Remove the temp files of writes that were killed before their rename, under ``root``; return them.

    Only safe while nothing writes under ``root``: the workflow calls it in ``onstart``, after Snakemake has
    locked the working directory and before any job runs.
    """
    removed = []
    for folder, _, names in os.walk(root):
        for name in names:
            if _TEMP_NAME.match(name):
                path = Path(folder) / name
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_file(path: Path) -> None:
    # Without fsync a power loss after os.replace can leave a renamed but empty file on some filesystems.
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _json_default(obj: Any) -> Any:
    # numpy scalars and paths appear in metrics and manifests; make them plain JSON.
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
