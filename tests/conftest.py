"""Shared fixtures: small media files made on the fly, so tests need no downloaded data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fvc.io.encode import write_image, write_video

REPO = Path(__file__).resolve().parent.parent


def moving_frames(n: int = 12, height: int = 64, width: int = 96, seed: int = 0) -> list[np.ndarray]:
    """A textured square moving over noise: every frame differs, so index mix-ups show."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    frames = []
    for t in range(n):
        frame = base.copy()
        y, x = (4 + 3 * t) % (height - 16), (2 + 5 * t) % (width - 16)
        frame[y : y + 16, x : x + 16] = (255 - 10 * t) % 256
        frames.append(frame)
    return frames


@pytest.fixture
def make_video(tmp_path: Path):
    def _make(name: str = "clip.mp4", n: int = 12, height: int = 64, width: int = 96, seed: int = 0, fps: int = 8) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, moving_frames(n, height, width, seed), fps=fps)
        return path

    return _make


@pytest.fixture
def make_image(tmp_path: Path):
    def _make(name: str = "still.png", height: int = 48, width: int = 80, seed: int = 0) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, moving_frames(1, height, width, seed)[0])
        return path

    return _make


@pytest.fixture(autouse=True, scope="session")
def _no_weights_downloads(tmp_path_factory: pytest.TempPathFactory):
    """No test reaches the network for published weights: an empty cache, downloads off (workflow runs inherit
    both through the environment). Tests that need weights write them in the publisher's layout themselves."""
    patch = pytest.MonkeyPatch()
    patch.setenv("FVC_CACHE", str(tmp_path_factory.mktemp("fvc_cache")))
    patch.setenv("FVC_OFFLINE", "1")
    yield
    patch.undo()
