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

__all__ = ["TEMP_PREFIX", "atomic_path", "atomic_write", "is_temp_name", "sweep_orphans", "write_json", "write_parquet", "write_text"]

# atomic_path names its temp files TEMP_PREFIX + mkstemp's 8 random characters + "-" + the target's name
# (".fvc-tmp-k2x9q0ab-metrics.json"): hidden, the target's suffix kept, and a marker no other program uses,
# so that sweep_orphans removes fvc's own leftovers and nothing else (a user's ".notes.a1b2c3d4.tmp" stays).
TEMP_PREFIX = ".fvc-tmp-"
_TEMP_NAME = re.compile(rf"^{re.escape(TEMP_PREFIX)}[a-z0-9_]{{8}}-.+$")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    For writers that insist on a file name (``np.save``, ``DataFrame.to_parquet``, PyAV's muxer). The temp
    name keeps the target's suffix so that format detection by extension still works.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=f"-{target.name}", dir=target.parent)
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


def is_temp_name(name: str) -> bool:
    """True for a file name :func:`atomic_path` gives its temp files (and no other name)."""
    return _TEMP_NAME.match(name) is not None


def sweep_orphans(root: str | os.PathLike[str]) -> list[Path]:
    """Remove the temp files of fvc's writes that were killed before their rename, under ``root``; return them.

    Only names carrying fvc's marker (:data:`TEMP_PREFIX`, see :func:`is_temp_name`) are removed, and only
    plain files: a user's ``.draft.a1b2c3d4.tmp`` or any other temp-looking file is left alone. Symbolic links
    to folders are not followed, so nothing outside ``root`` is touched. Only safe while nothing writes under
    ``root``: the workflow calls it in ``onstart`` on the results folder (which ``fvc.io.results_dir`` has
    checked is not ``/``, the home folder or a folder holding the input data), after Snakemake has locked the
    working directory and before any job runs.
    """
    removed = []
    for folder, _, names in os.walk(root):
        for name in names:
            if is_temp_name(name) and not os.path.islink(os.path.join(folder, name)):
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
