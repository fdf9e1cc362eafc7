"""Atomic writes: an error mid-write leaves the previous file intact and no temp files behind."""

from __future__ import annotations

import pandas as pd
import pytest

from fvc.io.atomic import atomic_write, write_json, write_parquet


def test_failed_write_keeps_old_content(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("half of the new")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_successful_writes(tmp_path):
    write_json(tmp_path / "a" / "m.json", {"x": 1})
    assert (tmp_path / "a" / "m.json").read_text().strip().startswith("{")
    frame = pd.DataFrame({"a": [1, 2]})
    write_parquet(tmp_path / "t.parquet", frame)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "t.parquet"]


def test_sweep_orphans_removes_only_temp_files_of_killed_writes(tmp_path):
    import os
    import tempfile

    from fvc.io.atomic import sweep_orphans

    (tmp_path / "a").mkdir()
    fd, orphan = tempfile.mkstemp(prefix=".shard_0.parquet.", suffix=".tmp.parquet", dir=tmp_path / "a")  # as atomic_path names it
    os.close(fd)
    keep = [tmp_path / "a" / "shard_0.parquet", tmp_path / ".hidden", tmp_path / "notes.tmp", tmp_path / ".x.tmp.json"]
    for path in keep:
        path.write_text("x")
    assert sweep_orphans(tmp_path) == [tmp_path / "a" / os.path.basename(orphan)]
    assert all(p.exists() for p in keep)
