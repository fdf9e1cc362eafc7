"""The clips stage: sampled, scaled frame arrays per video, written shard by shard.

Layout (one folder per shard, resumable inside)::

    <clips>/<clipset>/shard_<s>/recipe.json        the recipe the arrays were made with
    <clips>/<clipset>/shard_<s>/<video_id>.npy     uint8 (T, H, W, 3), memory-mappable
    <clips>/<clipset>/shard_<s>/manifest.parquet   one row per video of the shard, written last

Only ``manifest.parquet`` is a declared Snakemake output, so a failed or killed job loses no finished
arrays: the rerun skips every video whose array is already complete.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from fvc.config import ClipRecipe
from fvc.io.atomic import atomic_path, write_json, write_parquet
from fvc.io.scaling import frame_transform
from fvc.io.video import DecodeError, read_frames, sample_indices

__all__ = ["MANIFEST_COLUMNS", "extract_shard", "load_clip", "shard_of", "shard_videos"]

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["video_id", "copy", "array", "frames", "height", "width", "status", "reason"]


def shard_of(video_id: str, n_shards: int) -> int:
    """Shard of a video: a function of its id alone, so adding videos never moves existing ones."""
    return int(video_id[:8], 16) % n_shards


def shard_videos(videos: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} out of range for {n_shards} shard(s)")
    mask = videos["video_id"].map(lambda vid: shard_of(vid, n_shards) == shard)
    return videos.loc[mask].sort_values("video_id", kind="stable").reset_index(drop=True)


def extract_shard(
    videos: pd.DataFrame,
    shard: int,
    n_shards: int,
    recipe: ClipRecipe,
    shard_dir: str | Path,
    *,
    progress: bool = False,
) -> pd.DataFrame:
    """Write the clip array of every video in ``shard`` and return (and write) the shard manifest.

    A video that fails to decode is recorded with ``status="rejected"`` and its reason; the shard goes on.
    """
    shard_dir = Path(shard_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    _reset_if_recipe_changed(shard_dir, recipe)
    transform = frame_transform(recipe.scaling, recipe.size)
    expected_shape = (recipe.frames, recipe.size, recipe.size, 3)
    rows: list[dict[str, object]] = []
    todo = shard_videos(videos, shard, n_shards)
    for video in tqdm(todo.itertuples(index=False), total=len(todo), desc=f"clips {recipe.name}/{shard}", disable=not progress):
        array_name = f"{video.video_id}.npy"
        target = shard_dir / array_name
        row = {"video_id": video.video_id, "copy": 0, "array": array_name, "frames": recipe.frames,
               "height": recipe.size, "width": recipe.size, "status": "ok", "reason": ""}  # fmt: skip
        if _is_complete(target, expected_shape):
            rows.append(row)
            continue
        try:
            clip = read_frames(video.file, sample_indices(int(video.frames), recipe.frames), transform)
        except DecodeError as exc:
            log.warning("rejected %s: %s", video.path, exc.reason)
            rows.append({**row, "array": "", "status": "rejected", "reason": exc.reason})
            continue
        with atomic_path(target) as tmp:
            np.save(tmp, clip)
        rows.append(row)
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    write_parquet(shard_dir / "manifest.parquet", manifest)
    return manifest


def load_clip(shard_dir: str | Path, array_name: str) -> np.ndarray:
    """Memory-map one clip array; pages are read only when touched."""
    return np.load(Path(shard_dir) / array_name, mmap_mode="r")


def _is_complete(target: Path, shape: tuple[int, ...]) -> bool:
    if not target.exists():
        return False
    try:
        return np.load(target, mmap_mode="r").shape == shape
    except (ValueError, OSError):
        # A file that is not a valid .npy (should not happen with atomic writes, but disks lie) is redone.
        return False


def _reset_if_recipe_changed(shard_dir: Path, recipe: ClipRecipe) -> None:
    """Arrays made with another recipe under the same clipset name are stale: delete them."""
    recipe_file = shard_dir / "recipe.json"
    current = asdict(recipe)
    if recipe_file.exists():
        try:
            previous = json.loads(recipe_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if previous == current:
            return
        log.info("clipset %s changed (%s -> %s): clearing %s", recipe.name, previous, current, shard_dir)
        for stale in shard_dir.glob("*.npy"):
            stale.unlink()
    write_json(recipe_file, current)
