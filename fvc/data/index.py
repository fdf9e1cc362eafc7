"""The video index: probe every input once, keep the readable ones, explain the rest.

``videos.parquet`` is the contract every later stage reads: one row per usable file, keyed by ``video_id``.
``rejected.csv`` lists every input that was left out, with the reason; a bad file never stops the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from dataclasses import dataclass

import pandas as pd
from tqdm import tqdm

from fvc.data.sources import Rejection, Sample
from fvc.io.video import DecodeError, probe

__all__ = ["INDEX_COLUMNS", "REJECTED_COLUMNS", "IndexResult", "build_index", "collect_rejections", "rejections_frame"]

log = logging.getLogger(__name__)

INDEX_COLUMNS = [
    "video_id", "path", "file", "label", "group", "family", "width", "height", "fps", "frames",
    "duration", "codec", "bitrate", "rotation", "is_image", "gop", "file_bytes",
]  # fmt: skip
REJECTED_COLUMNS = ["video_id", "path", "stage", "reason"]


@dataclass
class IndexResult:
    videos: pd.DataFrame
    rejected: pd.DataFrame


def build_index(
    samples: Iterable[Sample],
    rejections: Iterable[Rejection] = (),
    *,
    max_file_bytes: int | None = None,
    progress: bool = False,
) -> IndexResult:
    """Probe each sample; return the index (sorted by ``video_id``) and every rejection with its reason."""
    rows: list[dict[str, object]] = []
    rejected = list(rejections)
    samples = list(samples)
    for sample in tqdm(samples, desc="index", unit="file", disable=not progress):
        size = sample.file.stat().st_size
        if max_file_bytes is not None and size > max_file_bytes:
            rejected.append(Rejection(sample.relpath, f"file of {size / 2**20:.0f} MiB exceeds index.max_file_mb"))
            continue
        try:
            info = probe(sample.file)
        except DecodeError as exc:
            log.warning("rejected %s: %s", sample.relpath, exc.reason)
            rejected.append(Rejection(sample.relpath, exc.reason))
            continue
        rows.append(
            {
                "video_id": sample.video_id,
                "path": sample.relpath,
                "file": str(sample.file.resolve()),
                "label": sample.label,
                "group": sample.group,
                "family": sample.family,
                **info.as_dict(),
                "file_bytes": size,
            }
        )
    videos = pd.DataFrame(rows, columns=INDEX_COLUMNS).sort_values("video_id", kind="stable").reset_index(drop=True)
    return IndexResult(videos=videos, rejected=rejections_frame(rejected))


def rejections_frame(rejections: Iterable[Rejection]) -> pd.DataFrame:
    rows = [{"video_id": r.video_id, "path": r.path, "stage": r.stage, "reason": r.reason} for r in rejections]
    return pd.DataFrame(rows, columns=REJECTED_COLUMNS).sort_values(["path", "stage"], kind="stable").reset_index(drop=True)


def collect_rejections(index_rejected: pd.DataFrame, videos: pd.DataFrame, manifests: Iterable[str | Path]) -> pd.DataFrame:
    """The index's rejections plus every video a clips shard could not decode, one row per video and stage."""
    frames = [index_rejected[REJECTED_COLUMNS]]
    paths = videos.set_index("video_id")["path"]
    for manifest_path in manifests:
        manifest = pd.read_parquet(manifest_path, columns=["video_id", "copy", "status", "reason"])
        bad = manifest[(manifest["status"] == "rejected") & (manifest["copy"] == 0)]
        clipset = Path(manifest_path).parent.parent.name
        frames.append(pd.DataFrame({"video_id": bad["video_id"], "path": bad["video_id"].map(paths), "stage": f"clips:{clipset}", "reason": bad["reason"]}))
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["stage", "path", "video_id"], kind="stable").reset_index(drop=True)
