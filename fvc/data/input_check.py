"""The input part of a config: ``input`` and ``test_sets`` name data that exists and can be split.

The data domain's check, which :func:`fvc.settings.validate_config` runs after the schema. Nothing here opens
a video: counts are taken from file names and sheet rows.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fvc.config import ConfigError

__all__ = ["check_input_config", "check_test_sets_config"]


def check_input_config(config: Mapping[str, Any]) -> None:
    """``input.path`` exists (a folder or sheet; synth creates its own) and has groups enough for the folds.

    Counts are upper bounds taken cheaply at parse time (files that the index later rejects still count),
    so a config refused here could never have been split; the split itself checks the final numbers.
    """
    kind, path = config["input"]["kind"], Path(config["input"]["path"])
    if config["split"].get("strategy") == "leave_one_family_out":
        if kind != "synth" and not path.exists():
            raise ConfigError(f"config key 'input.path': '{path}' does not exist")
        from fvc.data.splits import heldout_families  # deferred: pandas, only for this strategy

        try:
            heldout_families(dict(config))  # one fold per family: the split checks each fold's balance
        except (ValueError, OSError) as exc:
            raise ConfigError(f"config key 'split.strategy': {exc}") from None
        return
    folds = int(config["split"]["folds"])
    if kind == "folder":
        if not path.is_dir():
            raise ConfigError(f"config key 'input.path': data folder '{path}' does not exist")
        counts, unit = {label: _count_files(path / label, folds) for label in _LABELS}, "file(s)"
        where = f"data folder '{path}' (each file is its own group)"
    elif kind == "sheet":
        if not path.is_file():
            raise ConfigError(f"config key 'input.path': sample sheet '{path}' does not exist")
        counts, unit = _count_sheet_groups(path, folds), "group(s)"
        where = f"sample sheet '{path}'"
        if counts is None:  # not a readable sheet: the index reports why, row by row
            return
    else:
        scenes = (config.get("synth") or {}).get("scenes")
        if scenes is None:
            from fvc.data.synth import SynthConfig

            scenes = SynthConfig().scenes
        counts, unit = {label: int(scenes) for label in _LABELS}, "group(s)"
        where = f"the synthetic corpus (synth.scenes: {scenes}, one real and one fake per scene)"
    label = min(_LABELS, key=lambda lab: counts[lab])
    if counts[label] < folds:
        raise ConfigError(
            f"config key 'split.folds': {folds} folds need at least {folds} groups of each label, but {where} has "
            f"{counts[label]} {label} {unit}; lower split.folds or add {label} videos"
        )


_LABELS = ("real", "fake")


def check_test_sets_config(config: Mapping[str, Any]) -> None:
    """Each ``test_sets.<name>``: a folder or sheet that exists, or a synthetic corpus with valid settings written
    somewhere other than the training corpus (both would be generated into one folder)."""
    for name, source in (config.get("test_sets") or {}).items():
        if source is None:  # dropped
            continue
        where = f"config key 'test_sets.{name}"
        path = Path(source["path"])
        if source["kind"] == "synth":
            from fvc.data.synth import SynthConfig

            try:
                SynthConfig(**(source.get("synth") or {}))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}.synth': {exc}") from None
            if config["input"]["kind"] == "synth" and path.resolve() == Path(config["input"]["path"]).resolve():
                raise ConfigError(f"{where}.path': '{path}' is the training corpus's folder (input.path); give the test set its own")
        elif not path.exists():
            raise ConfigError(f"{where}.path': {'data folder' if source['kind'] == 'folder' else 'sample sheet'} '{path}' does not exist")
        elif source["kind"] == "folder" and not any((path / label).is_dir() for label in _LABELS):
            raise ConfigError(f"{where}.path': data folder '{path}' has neither a real/ nor a fake/ subfolder")


def _count_files(folder: Path, enough: int) -> int:
    """Non-hidden files under ``folder`` (recursively), counting stops at ``enough``; 0 for a missing folder."""
    count = 0
    for _, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += sum(1 for f in files if not f.startswith("."))
        if count >= enough:
            return count
    return count


def _count_sheet_groups(sheet: Path, enough: int) -> dict[str, int] | None:
    """Distinct groups per label in a sample sheet (a row without a group is its own), stopping at ``enough``.

    ``None`` when the sheet cannot be read or has no ``label`` column: its own checks say why later.
    """
    groups: dict[str, set[str]] = {label: set() for label in _LABELS}
    try:
        with open(sheet, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, skipinitialspace=True)
            fields = {str(f).strip(): f for f in reader.fieldnames or []}
            if "label" not in fields:
                return None
            for line, row in enumerate(reader, start=2):
                label = (row.get(fields["label"]) or "").strip()
                if label not in groups:
                    continue
                group = (row.get(fields["group"]) or "").strip() if "group" in fields else ""
                groups[label].add(group or f"\0row {line}")
                if all(len(g) >= enough for g in groups.values()):
                    break
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return {label: len(g) for label, g in groups.items()}


