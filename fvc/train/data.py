"""Streaming datasets over clip arrays for the torch models.

Clips stay on disk as memory-mapped ``.npy`` files; a sample is read, converted to float and normalised
only when its batch is built, so memory is O(batch) whatever the corpus size. Letterboxed clips of different
aspect ratios train together: a training batch draws clips of any shape and mirror-pads them to its largest
(:func:`pad_collate`), while scoring batches hold one shape each and are never padded, so a clip's score does not
depend on the clips it is batched with. Shuffling is a pure function of (seed, epoch), so a resumed run sees
exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["BucketBatchSampler", "ClipDataset", "ShuffledBatchSampler", "clip_rows", "make_loader", "mirror_index", "normalise", "pad_collate"]


def clip_rows(manifest_paths: Sequence[str | Path], labels: pd.Series) -> pd.DataFrame:
    """Decoded clips of every shard, with their array path and label (1 = fake); rows sorted by clip id."""
    frames = []
    for path in manifest_paths:
        manifest = pd.read_parquet(path, columns=["clip_id", "video_id", "copy", "array", "frames", "height", "width", "status"])
        manifest = manifest[manifest["status"] == "ok"].copy()
        manifest["path"] = [str(Path(path).parent / name) for name in manifest["array"]]
        frames.append(manifest)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["clip_id", "video_id", "copy", "path"])
    rows = rows[rows["video_id"].isin(labels.index)].copy()
    rows["label"] = rows["video_id"].map(labels).astype(np.int64)
    return rows.sort_values("clip_id", kind="stable").reset_index(drop=True)


class ClipDataset(Dataset):
    """(clip, label) pairs: clip as float32 ``(T, C, H, W)`` (layout ``frames``) or ``(C, T, H, W)`` (``clip``)."""

    def __init__(self, rows: pd.DataFrame, *, mean: Sequence[float], std: Sequence[float], layout: str = "frames") -> None:
        if layout not in ("frames", "clip"):
            raise ValueError(f"unknown layout '{layout}' (known: frames, clip)")
        self.paths = rows["path"].tolist()
        self.labels = rows["label"].to_numpy(np.int64)
        self.shapes = [(int(f), int(h), int(w)) for f, h, w in zip(rows["frames"], rows["height"], rows["width"], strict=True)]
        self.layout = layout
        self.mean = torch.tensor(mean, dtype=torch.float32)
        self.std = torch.tensor(std, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        array = np.load(self.paths[index], mmap_mode="r")
        clip = normalise(torch.from_numpy(np.array(array)), self.mean, self.std)
        if self.layout == "clip":
            clip = clip.permute(1, 0, 2, 3).contiguous()
        return clip, int(self.labels[index])


def normalise(clip: torch.Tensor, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float32 (T, 3, H, W), scaled to [0, 1] and standardised per channel."""
    mean = torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (clip.permute(0, 3, 1, 2).float().div_(255.0) - mean) / std


class ShuffledBatchSampler(Sampler[list[int]]):
    """Training batches: a permutation of every index drawn from ``(seed, epoch)``, cut into batches.

    Shapes are mixed on purpose. Batches of one shape each, as scoring uses, were the first design: with few
    clips per shape a batch held little more than one scene's real and fake twins, so BatchNorm normalised
    each fake against its own twin, a contrast that inference, with running statistics, does not have. On 8
    letterboxed clips of 3 shapes variable_ar_cnn's training loss fell to 0.09 while its inference-mode loss
    was 3.9; with mixed, padded batches the two agree.
    """

    def __init__(self, size: int, batch_size: int, *, seed: int = 0) -> None:
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size).tolist()
        return iter([order[i : i + self.batch_size] for i in range(0, self.size, self.batch_size)])

    def __len__(self) -> int:
        return (self.size + self.batch_size - 1) // self.batch_size


class BucketBatchSampler(Sampler[list[int]]):
    """Scoring batches: indices in order, grouped by clip shape so that no clip is padded."""

    def __init__(self, shapes: Sequence[tuple[int, ...]], batch_size: int) -> None:
        buckets: dict[tuple[int, ...], list[int]] = {}
        for index, shape in enumerate(shapes):
            buckets.setdefault(tuple(shape), []).append(index)
        self.batches: list[list[int]] = []
        for key in sorted(buckets):
            bucket = buckets[key]
            self.batches += [bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def mirror_index(size: int, target: int) -> torch.Tensor:
    """Indices that centre ``size`` samples in ``target`` and fill both sides by mirroring (``np.pad`` "symmetric")."""
    before = (target - size) // 2
    index = torch.arange(target) - before
    period = 2 * size
    index = index.remainder(period)  # mirrors repeatedly where a side is wider than the clip itself
    return torch.where(index >= size, period - 1 - index, index)


def pad_collate(items: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(clip, label)`` pairs, mirror-padding each clip's height and width (its last two axes) to the largest.

    Letterboxed clips already carry mirrored bars (:func:`fvc.io.scaling.mirror_pad`), so the padding only widens
    them. Frames per clip must agree: they are the clipset's, whatever the video's shape.
    """
    height = max(clip.shape[-2] for clip, _ in items)
    width = max(clip.shape[-1] for clip, _ in items)
    clips = []
    for clip, _ in items:
        if clip.shape[-2] != height:
            clip = clip.index_select(-2, mirror_index(clip.shape[-2], height))
        if clip.shape[-1] != width:
            clip = clip.index_select(-1, mirror_index(clip.shape[-1], width))
        clips.append(clip)
    return torch.stack(clips), torch.tensor([label for _, label in items], dtype=torch.int64)


def make_loader(dataset: ClipDataset, batch_size: int, *, shuffle: bool, seed: int, num_workers: int = 0) -> DataLoader:
    """Training batches (``shuffle``: mixed shapes, padded, drawn from ``(seed, epoch)``) or scoring batches (in order, by shape)."""
    if shuffle:
        sampler: Sampler[list[int]] = ShuffledBatchSampler(len(dataset), batch_size, seed=seed)
        collate = pad_collate
    else:
        sampler, collate = BucketBatchSampler(dataset.shapes, batch_size), None
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
    )
