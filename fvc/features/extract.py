"""Feature tables: one Parquet per clip shard, merged per clipset with the index's codec cues."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from fvc.data.clips import load_clip
from fvc.features.handcrafted import CODEC_FEATURES, FEATURE_NAMES, clip_features, codec_features
from fvc.features.image import IMAGE_FEATURE_NAMES, image_features

__all__ = ["CLIP_FEATURES", "clip_table_row", "feature_columns", "merge_feature_shards", "shard_features"]

log = logging.getLogger(__name__)

CLIP_FEATURES: tuple[str, ...] = FEATURE_NAMES + IMAGE_FEATURE_NAMES
KEYS = ("video_id", "copy")


def shard_features(manifest_path: str | Path, *, progress: bool = False) -> pd.DataFrame:
    """Handcrafted and image features of every decoded clip listed in a clip shard's manifest."""
    manifest_path = Path(manifest_path)
    manifest = pd.read_parquet(manifest_path)
    ok = manifest[manifest["status"] == "ok"]
    rows = []
    for clip in tqdm(ok.itertuples(index=False), total=len(ok), desc=f"features {manifest_path.parent.name}", disable=not progress):
        array = load_clip(manifest_path.parent, clip.array)
        # Letterbox padding is not picture: measure the content box only.
        box = (slice(None), slice(clip.pad_top, clip.pad_top + clip.content_height), slice(clip.pad_left, clip.pad_left + clip.content_width))
        rows.append({"video_id": clip.video_id, "copy": int(clip.copy), **_pixel_features(np.asarray(array[box]))})
    return pd.DataFrame(rows, columns=[*KEYS, *CLIP_FEATURES])


def merge_feature_shards(shard_paths: Iterable[str | Path], videos: pd.DataFrame) -> pd.DataFrame:
    """Concatenate shard tables and add codec cues; rows sorted by (video_id, copy) for stable output."""
    shards = [pd.read_parquet(path) for path in shard_paths]
    features = pd.concat(shards, ignore_index=True) if shards else pd.DataFrame(columns=[*KEYS, *CLIP_FEATURES])
    codec = pd.DataFrame(
        [{"video_id": v.video_id, **_codec(v)} for v in videos.itertuples(index=False)],
        columns=["video_id", *CODEC_FEATURES],
    )
    merged = features.merge(codec, on="video_id", how="left", validate="many_to_one")
    return merged.sort_values(list(KEYS), kind="stable").reset_index(drop=True)


def clip_table_row(content: np.ndarray, info: object) -> dict[str, float]:
    """Every feature column of one clip (its picture box) and its file's probe: one row of a merged table."""
    return {**_pixel_features(content), **_codec(info)}


def _pixel_features(content: np.ndarray) -> dict[str, float]:
    return {**clip_features(content), **image_features(content)}


def _codec(video: object) -> dict[str, float]:
    """Codec cues from an index row or a :class:`fvc.io.video.VideoInfo` (same attribute names)."""
    return codec_features(video.bitrate, video.fps, video.width, video.height, video.codec, video.gop)


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The numeric feature columns of a merged table (everything but the keys)."""
    return [c for c in table.columns if c not in KEYS]
