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


def _killed_write(target) -> None:
    """Start an atomic write of ``target`` in a child process and kill it before the rename (os._exit)."""
    import subprocess
    import sys

    code = ("import os, sys\nfrom fvc.io.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_text('half a file')\n    os._exit(9)\n")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code, str(target)]).returncode == 9


def test_temp_files_carry_fvcs_marker_and_the_targets_name(tmp_path):
    from fvc.io.atomic import TEMP_PREFIX, atomic_path, is_temp_name

    with atomic_path(tmp_path / "shard_0.parquet") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(TEMP_PREFIX) and tmp.name.endswith("-shard_0.parquet")
        assert tmp.suffix == ".parquet" and is_temp_name(tmp.name)
        tmp.write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["shard_0.parquet"]


def test_sweep_orphans_removes_only_temp_files_of_killed_writes(tmp_path):
    from fvc.io.atomic import sweep_orphans

    (tmp_path / "a").mkdir()
    _killed_write(tmp_path / "a" / "shard_0.parquet")
    _killed_write(tmp_path / "metrics.json")
    orphans = sorted(p for p in tmp_path.rglob(".fvc-tmp-*"))
    assert [p.name.split("-", 3)[-1] for p in orphans] == ["metrics.json", "shard_0.parquet"]  # sorted by path
    keep = [tmp_path / "a" / "shard_0.parquet", tmp_path / ".hidden", tmp_path / "notes.tmp", tmp_path / ".x.tmp.json"]
    for path in keep:
        path.write_text("x")
    assert sorted(sweep_orphans(tmp_path)) == orphans
    assert not any(p.exists() for p in orphans) and all(p.exists() for p in keep)


def test_sweep_keeps_user_files_that_only_look_like_temp_files(tmp_path):
    """The start-up sweep ran with `results: .` and deleted these: only fvc's marker may be swept."""
    from fvc.io.atomic import sweep_orphans

    user_files = [
        tmp_path / "notes" / ".todo.ABCDEFGH.tmp.txt",
        tmp_path / "data" / "real" / ".draft.a1b2c3d4.tmp",
        tmp_path / ".metrics.json.k1ll3d_x.tmp.json",  # what atomic_path used to name its temp files
        tmp_path / ".fvc-tmp-short-x.txt",  # the marker, but not followed by mkstemp's 8 characters and a dash
        tmp_path / "fvc-tmp-abcdefgh-x.txt",  # not hidden
        tmp_path / "tmp" / ".fvc-tmp-abcdefgh",  # no target name
    ]
    for path in user_files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("mine")
    assert sweep_orphans(tmp_path) == []
    assert all(p.read_text() == "mine" for p in user_files)


def test_sweep_does_not_follow_links_out_of_the_folder(tmp_path):
    from fvc.io.atomic import sweep_orphans

    outside = tmp_path / "outside"
    _killed_write(outside / "metrics.json")
    (outside / ".fvc-tmp-abcdefgh-link.txt").write_text("x")
    root = tmp_path / "results"
    root.mkdir()
    (root / "data").symlink_to(outside, target_is_directory=True)
    (root / ".fvc-tmp-abcdefgh-file.txt").symlink_to(outside / ".fvc-tmp-abcdefgh-link.txt")
    assert sweep_orphans(root) == []
    assert len(list(outside.iterdir())) == 2 and (root / ".fvc-tmp-abcdefgh-file.txt").exists()
