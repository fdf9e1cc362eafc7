"""``fvc predict`` inputs and outputs: folders, sample sheets, ``--model all`` and Parquet.

Folders and sheets are read with the workflow's own rules (fvc.data.sources); an argument that names nothing
to score stops the command with one line before any model is loaded; several models give one row per
(file, model); Parquet is written atomically to a file and never to standard output.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import torch

from fvc.cli import main
from fvc.inference import InputError, expand_inputs, resolve_models, trained_models
from fvc.io.atomic import write_json
from fvc.models import create
from fvc.models.registry import model_kwargs

RECIPE = {"frames": 2, "size": 32, "scaling": "fixed"}


def save_torch_fold(results: Path, name: str, fold: int = 0) -> None:
    """A fold folder as training leaves it (untrained weights: scoring, not accuracy, is under test)."""
    torch.manual_seed(fold)
    kwargs = {**model_kwargs(name), "pretrained": False}  # every builder parameter, as training saves them
    model = create(name, **kwargs)
    path = results / "models" / name / f"fold_{fold}"
    path.mkdir(parents=True, exist_ok=True)
    torch.save({"name": name, "kwargs": kwargs, "state_dict": model.state_dict(),
                "default_cfg": {"mean": (0.5,) * 3, "std": (0.5,) * 3}, "clip_recipe": RECIPE}, path / "model.pt")  # fmt: skip
    write_json(path / "training_complete", {"model": name, "fold": fold})


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """naive_cnn (2 folds) and deep_v1 (1 fold) trained; folders --model all must skip beside them."""
    results = tmp_path / "results"
    save_torch_fold(results, "naive_cnn", 0)
    save_torch_fold(results, "naive_cnn", 1)
    save_torch_fold(results, "deep_v1", 0)
    (results / "models" / "svm" / "fold_0").mkdir(parents=True)  # started, never finished: no marker
    stale = results / "models" / "retired_model" / "fold_0"  # not a registered model
    stale.mkdir(parents=True)
    write_json(stale / "training_complete", {})
    return results


def small_video(make_video, name: str, seed: int = 0) -> Path:
    return make_video(name, n=4, height=32, width=48, seed=seed)


def test_a_folder_expands_to_its_media_files_recursively_sorted(tmp_path, make_video, make_image):
    folder = tmp_path / "in"
    small_video(make_video, "in/z/deep/b.mp4")
    make_image("in/a.png", height=32, width=32)
    small_video(make_video, "in/m.MOV")
    (folder / "notes.txt").write_text("not media")
    small_video(make_video, "in/.hidden/c.mp4")
    small_video(make_video, "in/.d.mp4")
    table = expand_inputs([folder])
    assert list(table["path"]) == [str(folder / "a.png"), str(folder / "m.MOV"), str(folder / "z/deep/b.mp4")]
    assert "true_label" not in table.columns and (table["error"] == "").all()


def test_a_real_fake_folder_records_the_subfolder_label(tmp_path, make_video, make_image):
    data = tmp_path / "data"
    small_video(make_video, "data/real/r1.mp4")
    make_image("data/fake/sub/f1.png", height=32, width=32)
    small_video(make_video, "data/extra.mp4")  # outside real/ and fake/: scored, label unknown
    (data / "real" / "readme.txt").write_text("skipped")
    single = small_video(make_video, "single.mp4")
    table = expand_inputs([single, data])
    assert list(table["path"]) == [str(single), str(data / "extra.mp4"), str(data / "fake/sub/f1.png"), str(data / "real/r1.mp4")]
    assert list(table["true_label"]) == ["", "", "fake", "real"]


def test_a_sheet_resolves_paths_against_its_folder_and_keeps_its_columns(tmp_path, make_video):
    small_video(make_video, "data/clips/a.mp4")
    small_video(make_video, "data/b.mp4", seed=1)
    sheet = tmp_path / "data" / "samples.csv"
    sheet.write_text("path,label,group\nclips/a.mp4,real,scene1\nmissing.mp4,fake,scene2\nb.mp4,fake,scene1\n")
    table = expand_inputs([sheet])
    data = tmp_path / "data"
    assert list(table.columns) == ["path", "true_label", "group", "error"]  # no family column in the sheet: none invented
    usable = table[table["error"] == ""]
    assert list(usable["path"]) == [str(data / "clips/a.mp4"), str(data / "b.mp4")]
    assert list(usable["true_label"]) == ["real", "fake"] and list(usable["group"]) == ["scene1", "scene1"]
    (refused,) = table[table["error"] != ""].itertuples()
    assert refused.path == str(data / "missing.mp4") and "line 3" in refused.error and "file not found" in refused.error


@pytest.mark.parametrize("case", ["missing_folder", "empty_folder", "sheet_without_path"])
def test_an_argument_naming_nothing_is_one_line_and_exit_2_before_models_load(tmp_path, make_video, capsys, case):
    video = small_video(make_video, "ok.mp4")
    bad = {"missing_folder": tmp_path / "no_such_folder", "empty_folder": tmp_path / "empty", "sheet_without_path": tmp_path / "s.csv"}[case]
    if case == "empty_folder":
        (bad / "sub").mkdir(parents=True)
        (bad / "sub" / "notes.txt").write_text("no media")
    if case == "sheet_without_path":
        bad.write_text("file,label\nok.mp4,real\n")
    with pytest.raises(InputError, match=str(bad.name)):
        expand_inputs([video, bad])
    # The results folder holds no model: had a model been loaded first, the message would be about the model.
    assert main(["predict", str(video), str(bad), "--model", "naive_cnn", "--results", str(tmp_path / "results")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in captured.err
    assert "trained folds" not in lines[0]
    expected = {"missing_folder": "no such file or folder", "empty_folder": "no video or image files", "sheet_without_path": "missing column(s) path"}
    assert expected[case] in lines[0]


def test_model_all_finds_trained_models_and_scores_each_file_with_each(results, tmp_path, make_video, capsys):
    assert trained_models(results) == ["deep_v1", "naive_cnn"]  # sorted; no marker or unregistered: skipped
    assert resolve_models(results, "all") == ["deep_v1", "naive_cnn"]
    assert resolve_models(results, "naive_cnn, deep_v1,naive_cnn") == ["naive_cnn", "deep_v1"]
    with pytest.raises(FileNotFoundError, match="no trained models"):
        resolve_models(tmp_path / "nothing", "all")

    small_video(make_video, "data/real/r.mp4")
    small_video(make_video, "data/fake/f.mp4", seed=1)
    broken = tmp_path / "data" / "fake" / "broken.mp4"
    broken.write_bytes(b"not a video" * 20)
    assert main(["predict", str(tmp_path / "data"), "--model", "all", "--results", str(results), "--quiet"]) == 0
    captured = capsys.readouterr()
    table = pd.read_csv(io.StringIO(captured.out), keep_default_na=False)
    data = tmp_path / "data"
    files = [str(data / "fake/broken.mp4"), str(data / "fake/f.mp4"), str(data / "real/r.mp4")]
    assert list(zip(table["path"], table["model"], strict=True)) == [(f, m) for f in files for m in ("deep_v1", "naive_cnn")]
    assert list(table["true_label"]) == ["fake"] * 4 + ["real"] * 2
    scored = table[table["error"] == ""]
    assert len(scored) == 4 and scored["score"].astype(float).between(0, 1).all()
    assert list(scored["n_folds"]) == [1, 2, 1, 2]
    naive = scored[scored["model"] == "naive_cnn"]
    assert (naive["score"].astype(float) - (naive["fold_0"].astype(float) + naive["fold_1"].astype(float)) / 2).abs().max() < 1e-9
    assert (scored[scored["model"] == "deep_v1"]["fold_1"] == "").all()  # deep_v1 has one fold only
    failed = table[table["error"] != ""]
    assert set(failed["model"]) == {"deep_v1", "naive_cnn"} and (failed["n_folds"] == 0).all()
    assert captured.err.count(f"fvc predict: {broken}:") == 1  # one line per file, not per model
    assert "1 of 3 file(s) could not be scored" in captured.err


def test_parquet_output_round_trips_and_is_refused_on_stdout(results, tmp_path, make_video, capsys):
    small_video(make_video, "a.mp4")
    sheet = tmp_path / "samples.csv"
    sheet.write_text("path,label,group,family\na.mp4,fake,g,upsample\n")
    out = tmp_path / "out" / "scores.parquet"
    args = ["predict", str(sheet), "--model", "naive_cnn", "--results", str(results), "--quiet"]
    assert main([*args, "--format", "parquet", "--out", str(out)]) == 0
    assert main([*args, "--format", "csv"]) == 0
    as_csv = pd.read_csv(io.StringIO(capsys.readouterr().out), keep_default_na=False)
    table = pd.read_parquet(out)
    assert list(table.columns) == list(as_csv.columns)
    row = table.iloc[0]
    assert (row["path"], row["model"], row["true_label"], row["group"], row["family"]) == (str(tmp_path / "a.mp4"), "naive_cnn", "fake", "g", "upsample")
    assert row["score"] == pytest.approx(float(as_csv.loc[0, "score"])) and row["n_folds"] == 2 and row["error"] == ""
    assert sorted(p.name for p in out.parent.iterdir()) == ["scores.parquet"]  # no temp file left behind

    assert main([*args, "--format", "parquet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "--out" in captured.err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_a_progress_bar_over_files_on_a_terminal_unless_quiet(results, make_video, monkeypatch, capsys, quiet):
    videos = [small_video(make_video, f"v{i}.mp4", seed=i) for i in range(2)]
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    args = ["predict", *map(str, videos), "--model", "naive_cnn", "--results", str(results)]
    assert main(args + ["--quiet"] * quiet) == 0
    assert len(pd.read_csv(io.StringIO(capsys.readouterr().out))) == 2
    assert ("predict: 100%" in terminal.getvalue() and "2/2" in terminal.getvalue()) is not quiet
