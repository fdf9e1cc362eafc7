"""The video index: probe every input once, keep the readable ones, explain the rest.

``videos.parquet`` is the contract every later stage reads: one row per usable file, keyed by ``video_id``.
``rejected.csv`` lists every input that was left out, with the reason; a bad file never stops the run.

A file is one video however many names reach it: entries are compared by resolved path and by a SHA-256
of their bytes before anything is probed, so a symlink or a copy cannot put the same footage in two folds
(an optimistic score) or under both labels (a contradiction, rejected with both paths named).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from fvc.data.sources import Rejection, Sample
from fvc.io.video import DecodeError, probe

__all__ = [
    "INDEX_COLUMNS", "REJECTED_COLUMNS", "IndexResult", "build_index", "clip_rejections", "collect_rejections",
    "decodable_everywhere", "deduplicate", "file_digest", "rejections_frame",
]  # fmt: skip

log = logging.getLogger(__name__)

INDEX_COLUMNS = [
    "video_id", "path", "file", "label", "group", "family", "width", "height", "fps", "frames",
    "duration", "codec", "bitrate", "rotation", "is_image", "gop", "file_bytes", "sha256",
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
    sized: list[Sample] = []
    sizes: dict[str, int] = {}
    for sample in sorted(samples, key=lambda s: s.relpath):
        try:
            size = sample.file.stat().st_size
        except OSError as exc:  # gone or unreadable since it was listed
            rejected.append(Rejection(sample.relpath, f"cannot stat file ({exc.strerror or exc})"))
            continue
        if size == 0:  # before hashing: every empty file has the same digest, and "duplicate" would hide why
            rejected.append(Rejection(sample.relpath, "empty file (0 bytes)"))
            continue
        if max_file_bytes is not None and size > max_file_bytes:
            rejected.append(Rejection(sample.relpath, f"file of {size / 2**20:.0f} MiB exceeds index.max_file_mb"))
            continue
        sized.append(sample)
        sizes[sample.relpath] = size
    unique, unusable, digests = deduplicate(sized, progress=progress)
    rejected += unusable
    for sample in tqdm(unique, desc="index", unit="file", disable=not progress):
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
                "file_bytes": sizes[sample.relpath],
                "sha256": digests[sample.relpath],
            }
        )
    videos = pd.DataFrame(rows, columns=INDEX_COLUMNS).sort_values("video_id", kind="stable").reset_index(drop=True)
    return IndexResult(videos=videos, rejected=rejections_frame(rejected))


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in chunks (memory does not grow with the file)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def deduplicate(samples: Iterable[Sample], *, progress: bool = False) -> tuple[list[Sample], list[Rejection], dict[str, str]]:
    """Keep one sample per distinct content; return (kept, rejections, {relpath: sha256}).

    Samples are taken in ``relpath`` order, so which name is kept does not depend on listing order. The same
    content twice under one label is one video (the first name); under both labels it is a contradiction,
    and every name of it is rejected, each naming the others. Files reached through one resolved path are
    hashed once.
    """
    by_resolved: dict[Path, str] = {}
    digests: dict[str, str] = {}
    by_digest: dict[str, list[Sample]] = {}
    rejections: list[Rejection] = []
    ordered = sorted(samples, key=lambda s: s.relpath)
    for sample in tqdm(ordered, desc="hash", unit="file", disable=not progress):
        resolved = sample.file.resolve()
        if resolved not in by_resolved:
            try:
                by_resolved[resolved] = file_digest(resolved)
            except OSError as exc:
                rejections.append(Rejection(sample.relpath, f"cannot read file ({exc.strerror or exc})"))
                continue
        digests[sample.relpath] = by_resolved[resolved]
        by_digest.setdefault(by_resolved[resolved], []).append(sample)
    kept: list[Sample] = []
    for digest, names in by_digest.items():
        if len({s.label for s in names}) > 1:
            for sample in names:
                others = ", ".join(f"'{o.relpath}' ({o.label})" for o in names if o is not sample)
                rejections.append(Rejection(sample.relpath, f"same content (sha256 {digest[:12]}) as {others}: "
                                                            f"one file cannot be both real and fake"))  # fmt: skip
            continue
        first, *rest = names
        kept.append(first)
        rejections += [Rejection(s.relpath, f"duplicate of '{first.relpath}' (same content, sha256 {digest[:12]}): indexed once") for s in rest]
    return sorted(kept, key=lambda s: s.relpath), rejections, digests


def rejections_frame(rejections: Iterable[Rejection]) -> pd.DataFrame:
    rows = [{"video_id": r.video_id, "path": r.path, "stage": r.stage, "reason": r.reason} for r in rejections]
    return pd.DataFrame(rows, columns=REJECTED_COLUMNS).sort_values(["path", "stage"], kind="stable").reset_index(drop=True)


def clip_rejections(manifests: Iterable[str | Path]) -> pd.DataFrame:
    """``video_id``, ``clipset``, ``reason`` of every video a clips shard rejected (one row per clipset)."""
    frames = []
    for manifest_path in manifests:
        manifest = pd.read_parquet(manifest_path, columns=["video_id", "copy", "status", "reason"])
        bad = manifest[(manifest["status"] == "rejected") & (manifest["copy"] == 0)]
        frames.append(pd.DataFrame({"video_id": bad["video_id"], "clipset": Path(manifest_path).parent.parent.name, "reason": bad["reason"]}))
    if not frames:
        return pd.DataFrame(columns=["video_id", "clipset", "reason"])
    return pd.concat(frames, ignore_index=True)


def decodable_everywhere(videos: pd.DataFrame, manifests: Iterable[str | Path]) -> pd.DataFrame:
    """The indexed videos that no clipset rejected: the only ones any model trains or is scored on.

    Clipsets sample different frames, so a damaged file can fail in one and pass in another; keeping it for
    some models only would compare them on different videos.
    """
    bad = set(clip_rejections(manifests)["video_id"])
    kept = videos[~videos["video_id"].isin(bad)].reset_index(drop=True)
    if bad:
        log.warning("%d video(s) rejected by a clipset are left out of every model", len(bad & set(videos["video_id"])))
    return kept


def collect_rejections(index_rejected: pd.DataFrame, videos: pd.DataFrame, manifests: Iterable[str | Path]) -> pd.DataFrame:
    """The index's rejections plus every video a clips shard could not decode, one row per video and stage."""
    frames = [index_rejected[REJECTED_COLUMNS]]
    paths = videos.set_index("video_id")["path"]
    bad = clip_rejections(manifests)
    frames.append(pd.DataFrame({"video_id": bad["video_id"], "path": bad["video_id"].map(paths), "stage": "clips:" + bad["clipset"],
                                "reason": bad["reason"] + " (left out of every model)"}))  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["stage", "path", "video_id"], kind="stable").reset_index(drop=True)
