"""Refuse a results folder that fvc must not write into: ``/``, the home folder, or one holding the input data.

The workflow writes every output under config ``results`` and, at start-up, sweeps its own orphaned temp
files there (``fvc.io.atomic.sweep_orphans``). Both assume the folder is fvc's: ``results: /``, the home
folder, or a folder that contains (or is) the input data would mix fvc's files with the user's and make the
sweep walk through them. The Snakefile calls :func:`check_results_dir` at parse time,
so such a value stops every command (dry runs included) with a message naming the key ``results``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fvc.config import ConfigError

__all__ = ["check_results_dir", "protected_data_folders"]


def _resolve(path: str | os.PathLike[str], base: Path) -> Path:
    """Absolute, symbolic links resolved, ``..`` and ``.`` collapsed; a relative path is taken from ``base``."""
    path = Path(path)
    return Path(os.path.realpath(path if path.is_absolute() else base / path))


def protected_data_folders(input_cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(config key, folder)`` of each input data folder: ``input.path`` (a sheet's folder for a sheet) and
    ``input.root`` (the folder a sheet's relative paths start from) when set."""
    path = str(input_cfg.get("path") or "")
    folders = []
    if path:
        if input_cfg.get("kind") == "sheet":
            folders.append(("input.path", str(Path(path).parent)))
        else:
            folders.append(("input.path", path))
    if input_cfg.get("root"):
        folders.append(("input.root", str(input_cfg["root"])))
    return folders


def check_results_dir(results: str, input_cfg: Mapping[str, Any] | None = None, *, cwd: str | os.PathLike[str] | None = None,
                      home: str | os.PathLike[str] | None = None) -> Path:  # fmt: skip
    """The resolved results folder; :class:`~fvc.config.ConfigError` naming ``results`` if fvc must not use it.

    Refused: the file system's root (``/``, ``//``, ``/.``, ``/..``), the user's home folder, and any folder
    that is, or contains, an input data folder (:func:`protected_data_folders`). Relative paths are taken
    from ``cwd`` (default: the working directory, which Snakemake has set to ``--directory``); ``home``
    defaults to ``Path.home()``.
    """
    base = Path(cwd) if cwd is not None else Path.cwd()
    resolved = _resolve(results, base)
    shown = f"config key 'results': '{results}'"
    advice = "choose a folder of its own, e.g. 'results'"
    if resolved == Path(resolved.anchor):
        raise ConfigError(f"{shown} is the file system's root folder; fvc writes its outputs and sweeps its temp "
                          f"files under the results folder, which must not be '/': {advice}")  # fmt: skip
    try:
        home_dir = _resolve(home if home is not None else Path.home(), base)
    except (RuntimeError, KeyError):  # no home folder known: nothing to compare with
        home_dir = None
    if home_dir is not None and resolved == home_dir:
        raise ConfigError(f"{shown} is your home folder ({home_dir}); fvc writes its outputs and sweeps its temp "
                          f"files under the results folder, which must not be a folder holding your own files: {advice}")  # fmt: skip
    for key, folder in protected_data_folders(input_cfg or {}):
        data = _resolve(folder, base)
        if resolved == data or resolved in data.parents:
            relation = "is" if resolved == data else "contains"
            raise ConfigError(f"{shown} ({resolved}) {relation} the input data folder of '{key}' ({data}); fvc writes "
                              f"its outputs and sweeps its temp files under the results folder, which must not hold "
                              f"the input data: {advice}")  # fmt: skip
    return resolved
