"""The clips stage: sampled, scaled (and augmented) frame arrays per video, written shard by shard.

Layout (one folder per shard, resumable inside)::

    <clips>/<clipset>/shard_<s>/recipe.json                the recipe the arrays were made with
    <clips>/<clipset>/shard_<s>/<video_id>_c<copy>.npy     uint8 (T, H, W, 3), memory-mappable
    <clips>/<clipset>/shard_<s>/<video_id>_c<copy>.json    the clip's substituted positions, written first
    <clips>/<clipset>/shard_<s>/manifest.parquet           one row per (video, copy), written last

One ``.npy`` per clip rather than one file per shard: a clip is read with ``np.load(mmap_mode="r")``
without touching its neighbours, a killed job keeps every finished clip, and a rerun checks each clip
on its own. Only ``manifest.parquet`` is a declared Snakemake output, so a failed job loses no arrays.

Copy 0 is the untouched clip; copies 1.. are augmented (:mod:`fvc.augment`) for training use only.

A wanted frame that the stream holds but that does not decode is replaced by the nearest earlier frame
(:func:`fvc.io.video.read_frames`); the manifest records how many of a clip's frames are such copies
(``substituted``) and their source positions (``substituted_positions``), and a video with a clip of more
than :data:`MAX_SUBSTITUTED_SHARE` copies is rejected. The ``.json`` beside each array keeps that record,
so a resumed shard's manifest equals an uninterrupted one's without decoding finished clips again.

The letterbox geometry is the video's probed one (``width``/``height`` of the index), applied to every
frame, so a stream that changes resolution part-way still gives clips of the shape the manifest states.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from fvc.augment import AugmentConfig, apply_plan, jitter_positions, plan_copy
from fvc.data.recipe import ClipRecipe
from fvc.io.atomic import atomic_path, write_json, write_parquet
from fvc.io.scaling import LetterboxGeometry, frame_transform, letterbox_geometry
from fvc.io.video import DecodeError, frame_table, plan_decode, probe, read_frames, sample_indices

__all__ = [
    "MANIFEST_COLUMNS", "MAX_SUBSTITUTED_SHARE", "clip_geometry", "clip_substitutions", "extract_shard", "load_clip", "read_clip",
    "shard_of", "shard_videos",
]  # fmt: skip

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = [
    "clip_id", "video_id", "copy", "array", "frames", "height", "width", "content_height", "content_width",
    "pad_top", "pad_left", "positions", "source_frames", "strategy", "augment", "status", "reason",
    "substituted", "substituted_positions",
]  # fmt: skip

# The largest share of a clip's frames that may be copies of an earlier frame (undecodable ones). Beyond a
# quarter the clip is mostly a frozen picture: temporal features and video models would learn the damage,
# not the content, and a prediction on it means little. At 4 frames per clip, one copy passes, two do not.
MAX_SUBSTITUTED_SHARE = 0.25


def shard_of(video_id: str, n_shards: int) -> int:
    """Shard of a video: a function of its id alone, so adding videos never moves existing ones."""
    return int(video_id[:8], 16) % n_shards


def shard_videos(videos: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} out of range for {n_shards} shard(s)")
    mask = videos["video_id"].map(lambda vid: shard_of(vid, n_shards) == shard)
    return videos.loc[mask].sort_values("video_id", kind="stable").reset_index(drop=True)


def clip_geometry(recipe: ClipRecipe, width: int, height: int) -> LetterboxGeometry:
    """Array geometry of a clip of a ``width`` x ``height`` (display orientation) video."""
    if recipe.scaling == "letterbox":
        return letterbox_geometry(width, height, recipe.size)
    return LetterboxGeometry(recipe.size, recipe.size, recipe.size, recipe.size, 0, 0)


def extract_shard(
    videos: pd.DataFrame,
    shard: int,
    n_shards: int,
    recipe: ClipRecipe,
    shard_dir: str | Path,
    *,
    seed: int = 0,
    augment: AugmentConfig | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Write every clip (copy 0 and the augmented copies) of every video in ``shard``; return the manifest.

    A video that fails to decode, or whose clips would be more than :data:`MAX_SUBSTITUTED_SHARE` copies of
    undecodable frames, gets ``status="rejected"`` rows with its reason; the shard goes on. Memory is one
    video's kept frames at a time.
    """
    shard_dir = Path(shard_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    _reset_if_recipe_changed(shard_dir, recipe, seed, augment)
    augment = augment or AugmentConfig()
    rows: list[dict[str, object]] = []
    todo = shard_videos(videos, shard, n_shards)
    for video in tqdm(todo.itertuples(index=False), total=len(todo), desc=f"clips {recipe.name}/{shard}", disable=not progress):
        rows.extend(_video_clips(video, recipe, shard_dir, seed, augment))
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    write_parquet(shard_dir / "manifest.parquet", manifest)
    return manifest


def load_clip(shard_dir: str | Path, array_name: str) -> np.ndarray:
    """Memory-map one clip array; pages are read only when touched."""
    return np.load(Path(shard_dir) / array_name, mmap_mode="r")


def read_clip(path: str | Path, recipe: ClipRecipe) -> np.ndarray:
    """Copy 0 of a file under ``recipe``: uint8 (T, H, W, 3), as :func:`extract_shard` would have made it.

    As there, the probed display size fixes the letterbox geometry (a stream that changes resolution keeps
    one shape), and a clip with too many undecodable frames is refused with :class:`DecodeError`. Scoring a
    new file (``fvc predict``) reads it this way, so it sees what the training clips showed.
    """
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


def clip_substitutions(positions: Sequence[int], substituted: Iterable[int]) -> tuple[int, list[int], str]:
    """How many of a clip's frames (at ``positions``) are copies, of which source positions, and the reason
    to refuse the clip ("" when at most :data:`MAX_SUBSTITUTED_SHARE` of its frames are copies).

    ``substituted`` is what :func:`fvc.io.video.read_frames` reported for the positions it decoded.
    """
    bad = {int(p) for p in substituted}
    hits = [int(p) for p in positions if int(p) in bad]
    unique = sorted(set(hits))
    reason = ""
    if len(hits) > MAX_SUBSTITUTED_SHARE * len(positions):
        reason = (f"{len(hits)} of {len(positions)} sampled frames undecodable (source positions {unique}); more than "
                  f"{MAX_SUBSTITUTED_SHARE:.0%} of the clip would be copies of earlier frames")  # fmt: skip
    return len(hits), unique, reason


def _video_clips(video, recipe: ClipRecipe, shard_dir: Path, seed: int, augment: AugmentConfig) -> list[dict[str, object]]:
    geo = clip_geometry(recipe, int(video.width), int(video.height))
    shape = (recipe.frames, geo.height, geo.width, 3)
    base = {"video_id": video.video_id, "frames": recipe.frames, "height": geo.height, "width": geo.width,
            "content_height": geo.content_height, "content_width": geo.content_width,
            "pad_top": geo.pad_top, "pad_left": geo.pad_left}  # fmt: skip
    copies = range(recipe.copies + 1)
    names = {copy: f"{video.video_id}_c{copy}.npy" for copy in copies}
    plans = {copy: plan_copy(seed, video.video_id, copy, augment) for copy in copies}
    # The probed size fixes the geometry for every frame (see the module docstring).
    transform = frame_transform(recipe.scaling, recipe.size, display_size=(int(video.width), int(video.height)))
    substituted: dict[int, list[int]] = {}  # per copy: source positions whose frame is a copy
    per_copy: dict[int, np.ndarray] = {}
    try:
        table = frame_table(video.file)
        positions = sample_indices(table.count, recipe.frames, mode=recipe.sampling, stride=recipe.stride)
        per_copy = {copy: jitter_positions(positions, table.count, seed, video.video_id, copy, augment.max_jitter) for copy in copies}
        for copy in copies:
            recorded = _finished(shard_dir / names[copy], shape)
            if recorded is not None:
                substituted[copy] = recorded
        todo = [copy for copy in copies if copy not in substituted]
        # The plan for all copies, whether or not some were already written: a resumed shard's manifest
        # must equal an uninterrupted one's.
        strategy = plan_decode(table, np.unique(np.concatenate([per_copy[copy] for copy in copies]))).strategy
        if todo:
            union = np.unique(np.concatenate([per_copy[copy] for copy in todo]))
            missing: list[int] = []
            decoded = dict(zip(union.tolist(), read_frames(video.file, union, transform, table=table, substituted=missing)))
            for copy in todo:
                substituted[copy] = clip_substitutions(per_copy[copy], missing)[1]
            # Judged before anything is written: a refused video leaves no arrays behind.
            _refuse_substituted(video.file, per_copy, substituted)
            for copy in todo:
                clip = np.stack([decoded[int(p)] for p in per_copy[copy]])
                if clip.shape != shape:
                    raise DecodeError(video.file, f"decoded clip has shape {clip.shape}, expected {shape}")
                # The record first, the array last: an array on disk always has its record.
                write_json(_record_path(shard_dir / names[copy]), {"substituted_positions": substituted[copy]})
                with atomic_path(shard_dir / names[copy]) as tmp:
                    np.save(tmp, apply_plan(clip, plans[copy]))
            del decoded
        else:
            _refuse_substituted(video.file, per_copy, substituted)
    except DecodeError as exc:
        log.warning("rejected %s: %s", video.path, exc.reason)
        rows = []
        for copy in copies:
            count, unique, _ = clip_substitutions(per_copy[copy], substituted[copy]) if copy in substituted else (0, [], "")
            rows.append({**base, "clip_id": f"{video.video_id}_c{copy}", "copy": copy, "array": "", "positions": [],
                         "source_frames": 0, "strategy": "", "augment": "", "status": "rejected", "reason": exc.reason,
                         "substituted": count, "substituted_positions": unique})  # fmt: skip
        return rows
    rows = []
    for copy in copies:
        count, unique, _ = clip_substitutions(per_copy[copy], substituted[copy])
        rows.append({**base, "clip_id": f"{video.video_id}_c{copy}", "copy": copy, "array": names[copy],
                     "positions": [int(p) for p in per_copy[copy]], "source_frames": table.count, "strategy": strategy,
                     "augment": json.dumps(plans[copy].as_dict()["ops"]), "status": "ok", "reason": "",
                     "substituted": count, "substituted_positions": unique})  # fmt: skip
    return rows


def _refuse_substituted(file: str, per_copy: dict[int, np.ndarray], substituted: dict[int, list[int]]) -> None:
    """Reject the whole video if any of its clips has too many copied frames (copies share the decode)."""
    for copy in sorted(per_copy):
        reason = clip_substitutions(per_copy[copy], substituted[copy])[2]
        if reason:
            raise DecodeError(file, reason if len(per_copy) == 1 else f"copy {copy}: {reason}")


def _record_path(array: Path) -> Path:
    return array.with_suffix(".json")


def _finished(target: Path, shape: tuple[int, ...]) -> list[int] | None:
    """The substituted positions recorded for a finished clip; None if the clip must be (re)made."""
    if not _is_complete(target, shape):
        return None
    try:
        record = json.loads(_record_path(target).read_text(encoding="utf-8"))
        return [int(p) for p in record["substituted_positions"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record (an array from before records existed, or a damaged one): redo the clip


def _is_complete(target: Path, shape: tuple[int, ...]) -> bool:
    if not target.exists():
        return False
    try:
        array = np.load(target, mmap_mode="r")
        return array.shape == shape and array.dtype == np.uint8
    except (ValueError, OSError):
        # Not a valid .npy (atomic writes make this unlikely, but disks and users lie): redo it.
        return False


def _reset_if_recipe_changed(shard_dir: Path, recipe: ClipRecipe, seed: int, augment: AugmentConfig | None) -> None:
    """Arrays made with another recipe, seed or augmentation under the same clipset name are stale."""
    recipe_file = shard_dir / "recipe.json"
    current = json.loads(json.dumps({"recipe": asdict(recipe), "seed": seed, "augment": asdict(augment or AugmentConfig())}))
    if recipe_file.exists():
        try:
            previous = json.loads(recipe_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if previous == current:
            return
        log.info("clipset %s changed: clearing the arrays in %s", recipe.name, shard_dir)
        for stale in [*shard_dir.glob("*.npy"), *shard_dir.glob("*_c*.json")]:  # not recipe.json
            stale.unlink()
    write_json(recipe_file, current)
