"""The index keeps every readable input and lists every other one, with a reason, in rejected.csv."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from fvc.config import ConfigError
from fvc.data.index import build_index
from fvc.data.sources import discover_folder, load_samples, read_sheet, video_id


@pytest.fixture
def messy_folder(tmp_path, make_video, make_image):
    root = tmp_path / "data"
    make_video("data/real/a.mp4", seed=1)
    make_video("data/real/nested/b c ü.mp4", seed=2)
    make_video("data/fake/c.mp4", seed=3)
    make_image("data/fake/still.png")
    truncated = make_video("data/fake/truncated.mp4", n=24, seed=4)
    truncated.write_bytes(truncated.read_bytes()[:700])
    (root / "real" / "empty.mp4").write_bytes(b"")
    (root / "fake" / "notes.mp4").write_text("a text file renamed to .mp4\n")
    (root / "real" / "readme.txt").write_text("not media")
    (root / "real" / ".DS_Store").write_bytes(b"\0\0")
    return root


def test_folder_index_rejects_bad_files_and_keeps_the_rest(messy_folder):
    samples, rejections = discover_folder(messy_folder)
    result = build_index(samples, rejections)
    indexed = set(result.videos["path"])
    assert indexed == {"real/a.mp4", "real/nested/b c ü.mp4", "fake/c.mp4", "fake/still.png"}
    reasons = dict(zip(result.rejected["path"], result.rejected["reason"]))
    assert set(reasons) == {"fake/truncated.mp4", "real/empty.mp4", "fake/notes.mp4", "real/readme.txt"}
    assert "empty file" in reasons["real/empty.mp4"]
    assert "unreadable media" in reasons["fake/notes.mp4"]
    assert "unsupported file type '.txt'" in reasons["real/readme.txt"]
    assert all(result.rejected["stage"] == "index")


def test_index_rows_are_complete_and_keyed_by_stable_id(messy_folder):
    result = build_index(*discover_folder(messy_folder))
    videos = result.videos.set_index("path")
    assert videos.loc["real/a.mp4", "video_id"] == video_id("real/a.mp4")
    assert videos.loc["fake/still.png", "frames"] == 1 and bool(videos.loc["fake/still.png", "is_image"])
    assert videos.loc["real/a.mp4", "frames"] == 12 and videos.loc["real/a.mp4", "fps"] == pytest.approx(8)
    assert list(result.videos["video_id"]) == sorted(result.videos["video_id"])
    assert not result.videos[["width", "height", "frames", "codec", "bitrate", "duration"]].isna().any().any()


def test_sheet_rows_with_problems_are_rejected(tmp_path, make_video):
    make_video("data/v1.mp4", seed=1)
    make_video("data/v2.mp4", seed=2)
    outside = make_video("elsewhere/secret.mp4", seed=3)
    os.symlink(outside, tmp_path / "data" / "link.mp4")
    sheet = tmp_path / "data" / "samples.csv"
    sheet.write_text(
        "path,label,group\n"
        "v1.mp4,real,g1\n"
        "v2.mp4,fake,g1\n"
        "v1.mp4,real,g9\n"
        "missing.mp4,fake,g2\n"
        "v2.mp4,maybe,g3\n"
        "../elsewhere/secret.mp4,fake,g4\n"
        "link.mp4,fake,g5\n"
    )
    samples, rejections = read_sheet(sheet)
    assert [(s.relpath, s.label, s.group) for s in samples] == [("v1.mp4", "real", "g1"), ("v2.mp4", "fake", "g1")]
    reasons = [r.reason for r in rejections]
    assert any("duplicate of line 2" in r for r in reasons)
    assert any("file not found" in r for r in reasons)
    assert any("'maybe'" in r and "line 6" in r for r in reasons)
    assert sum("outside the data root" in r for r in reasons) == 2


def test_sheet_missing_columns_is_a_config_error(tmp_path):
    sheet = tmp_path / "samples.csv"
    sheet.write_text("file,class\nx.mp4,real\n")
    with pytest.raises(ConfigError, match="missing column"):
        read_sheet(sheet)


def test_folder_without_class_subfolders_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="neither a real/ nor a fake/"):
        load_samples("folder", tmp_path)


def test_rejected_table_round_trips_as_csv(messy_folder, tmp_path):
    result = build_index(*discover_folder(messy_folder))
    result.rejected.to_csv(tmp_path / "rejected.csv", index=False)
    again = pd.read_csv(tmp_path / "rejected.csv", keep_default_na=False)
    assert list(again.columns) == ["video_id", "path", "stage", "reason"]
    assert len(again) == 4
