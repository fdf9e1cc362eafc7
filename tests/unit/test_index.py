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


def test_sheet_rejects_unsupported_file_types(tmp_path, make_video):
    make_video("data/v1.mp4", seed=1)
    (tmp_path / "data" / "notes.txt").write_text("not media")
    sheet = tmp_path / "data" / "samples.csv"
    sheet.write_text("path,label\nv1.mp4,real\nnotes.txt,fake\n")
    samples, rejections = read_sheet(sheet)
    assert [s.relpath for s in samples] == ["v1.mp4"]
    assert [(r.path, "unsupported file type '.txt'" in r.reason) for r in rejections] == [("notes.txt", True)]


def test_one_file_under_two_names_is_one_video(tmp_path, make_video):
    make_video("data/real/x.mp4", seed=1)
    make_video("data/real/y.mp4", seed=2)
    make_video("data/fake/z.mp4", seed=3)
    sheet = tmp_path / "data" / "samples.csv"
    sheet.write_text("path,label\nreal/x.mp4,real\nreal/../real/x.mp4,real\nreal/y.mp4,real\nfake/z.mp4,fake\n")
    samples, rejections = read_sheet(sheet)
    assert sorted(s.relpath for s in samples) == ["fake/z.mp4", "real/x.mp4", "real/y.mp4"]
    assert [r.path for r in rejections] == ["real/x.mp4"] and "duplicate of line 2" in rejections[0].reason
    # A byte-identical copy under the same label is the same video too: indexed once, the copy named.
    (tmp_path / "data" / "real" / "copy_of_x.mp4").write_bytes((tmp_path / "data" / "real" / "x.mp4").read_bytes())
    result = build_index(*discover_folder(tmp_path / "data"))
    assert sorted(result.videos["path"]) == ["fake/z.mp4", "real/copy_of_x.mp4", "real/y.mp4"]
    reasons = dict(zip(result.rejected["path"], result.rejected["reason"], strict=True))
    assert set(reasons) == {"real/x.mp4"} and "duplicate of 'real/copy_of_x.mp4'" in reasons["real/x.mp4"]
    assert result.videos["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_same_content_under_both_labels_is_rejected_naming_both(tmp_path, make_video):
    make_video("data/real/x.mp4", seed=1)
    make_video("data/real/y.mp4", seed=2)
    make_video("data/fake/z.mp4", seed=3)
    os.symlink("../real/x.mp4", tmp_path / "data" / "fake" / "link.mp4")
    result = build_index(*discover_folder(tmp_path / "data"))
    assert sorted(result.videos["path"]) == ["fake/z.mp4", "real/y.mp4"]
    reasons = dict(zip(result.rejected["path"], result.rejected["reason"], strict=True))
    assert set(reasons) == {"real/x.mp4", "fake/link.mp4"}
    assert "'fake/link.mp4' (fake)" in reasons["real/x.mp4"] and "'real/x.mp4' (real)" in reasons["fake/link.mp4"]
    assert all("both real and fake" in r for r in reasons.values())


def _manifest(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["video_id", "copy", "status", "reason"]).to_parquet(path)
    return path


def test_a_video_one_clipset_rejects_is_left_out_of_every_model(tmp_path):
    from fvc.data.index import collect_rejections, decodable_everywhere

    videos = pd.DataFrame({"video_id": ["a", "b", "c"], "path": ["a.ts", "b.ts", "c.ts"]})
    manifests = [
        _manifest(tmp_path / "clips" / "frames" / "shard_0" / "manifest.parquet",
                  [("a", 0, "ok", ""), ("b", 0, "ok", ""), ("c", 0, "ok", "")]),
        _manifest(tmp_path / "clips" / "clip" / "shard_0" / "manifest.parquet",
                  [("a", 0, "ok", ""), ("b", 0, "rejected", "3 of 4 frames undecodable"), ("b", 1, "rejected", "x"), ("c", 0, "ok", "")]),
    ]  # fmt: skip
    assert list(decodable_everywhere(videos, manifests)["video_id"]) == ["a", "c"]
    index_rejected = pd.DataFrame(columns=["video_id", "path", "stage", "reason"])
    table = collect_rejections(index_rejected, videos, manifests)
    assert table[["path", "stage"]].values.tolist() == [["b.ts", "clips:clip"]]
    assert "left out of every model" in table["reason"].iloc[0]
