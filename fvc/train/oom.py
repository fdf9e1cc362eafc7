"""Out-of-memory back-off: halve the batch, double gradient accumulation, keep the effective batch."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass

import torch

__all__ = ["BatchPlan", "OutOfMemoryGiveUp", "free_memory", "is_out_of_memory"]

log = logging.getLogger(__name__)


class OutOfMemoryGiveUp(RuntimeError):
    """Out of memory even at batch size 1: the model or clip is too large for the device."""


@dataclass(frozen=True)
class BatchPlan:
    batch_size: int
    accumulate: int

    @property
    def effective(self) -> int:
        return self.batch_size * self.accumulate

    def halved(self) -> BatchPlan:
        if self.batch_size <= 1:
            raise OutOfMemoryGiveUp(
                "out of memory at batch size 1; reduce the clipset's frames or size, or use a smaller model variant"
            )
        return BatchPlan(self.batch_size // 2, self.accumulate * 2)


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    # Some kernels (cuDNN, cuBLAS workspace) report OOM as a plain RuntimeError.
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
