"""Streaming datasets over clip arrays for the torch models.

Clips stay on disk as memory-mapped ``.npy`` files; a sample is read, converted to float and normalised
only when its batch is built, so memory is O(batch) whatever the corpus size. Batches are drawn from
buckets of equal clip shape, which lets letterboxed clips of different aspect ratios train together
without padding them to one size. Shuffling is a pure function of (seed, epoch), so a resumed run sees
exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["BucketBatchSampler", "ClipDataset", "clip_rows", "make_loader", "normalise"]


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


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose clips share one shape; order drawn from ``(seed, epoch)``."""

    def __init__(self, shapes: Sequence[tuple[int, ...]], batch_size: int, *, shuffle: bool, seed: int = 0) -> None:
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        buckets: dict[tuple[int, ...], list[int]] = {}
        for index, shape in enumerate(shapes):
            buckets.setdefault(tuple(shape), []).append(index)
        self.buckets = [buckets[key] for key in sorted(buckets)]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = []
        for bucket in self.buckets:
            order = rng.permutation(bucket).tolist() if self.shuffle else list(bucket)
            batches += [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return iter(batches)

    def __len__(self) -> int:
        return sum(-(-len(bucket) // self.batch_size) for bucket in self.buckets)


def make_loader(dataset: ClipDataset, batch_size: int, *, shuffle: bool, seed: int, num_workers: int = 0) -> DataLoader:
    sampler = BucketBatchSampler(dataset.shapes, batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
    )
