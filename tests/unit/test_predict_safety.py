"""``fvc predict``: the model file read follows the model's registered kind, and bad arguments are one-line errors.

A torch model is read only from ``model.pt`` (weights only); a ``model.joblib`` (a pickle) in its folder is
refused without being loaded. An unregistered model name is a one-line error naming the registered models,
and a path that is not a regular file (missing, a folder, a FIFO) gets its own error row while the other
files are still scored; a FIFO must not hang the command.
"""

from __future__ import annotations

import io
import os
import pathlib
import threading
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
import torch

from fvc.cli import main
from fvc.inference import load_fold_models, path_problem
from fvc.io.atomic import write_json
from fvc.models import create, list_models
from fvc.models.registry import model_kwargs

RECIPE = {"frames": 2, "size": 32, "scaling": "fixed"}


class Canary:
    """Unpickling this creates ``path``: a stand-in for whatever a hostile pickle would run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def fold_dir(results: Path, name: str, fold: int = 0) -> Path:
    path = results / "models" / name / f"fold_{fold}"
    path.mkdir(parents=True, exist_ok=True)
    write_json(path / "training_complete", {"model": name, "fold": fold})
    return path


def save_torch_fold(results: Path, name: str = "naive_cnn", fold: int = 0, saved_name: str | None = None) -> Path:
    """A torch fold folder as training leaves it (untrained weights: only the loading path is under test)."""
    torch.manual_seed(0)
    kwargs = {**model_kwargs(name), "pretrained": False}  # every builder parameter, as training saves them
    model = create(name, **kwargs)
    path = fold_dir(results, name, fold)
    torch.save({"name": saved_name or name, "kwargs": kwargs, "state_dict": model.state_dict(),
                "default_cfg": {"mean": (0.5,) * 3, "std": (0.5,) * 3}, "clip_recipe": RECIPE}, path / "model.pt")  # fmt: skip
    return path


def save_canary_joblib(path: Path, marker: Path) -> None:
    # Shaped like a real sklearn fold file, so that code which loads it would get as far as using it.
    joblib.dump({"model": Canary(marker), "feature_names": ["x"], "name": "x", "params": {}, "clip_recipe": RECIPE}, path / "model.joblib")


def test_a_torch_model_never_loads_a_joblib_file(tmp_path, capsys):
    results, marker = tmp_path / "results", tmp_path / "unpickled"
    save_canary_joblib(fold_dir(results, "naive_cnn"), marker)  # no model.pt at all
    with pytest.raises(ValueError, match=r"holds model\.joblib, but 'naive_cnn' is a torch model"):
        load_fold_models(results, "naive_cnn")
    assert not marker.exists()
    assert main(["predict", str(tmp_path / "x.mp4"), "--model", "naive_cnn", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "model.joblib" in err and "refusing to load it" in err and "Traceback" not in err
    assert not marker.exists()


def test_a_joblib_file_beside_a_torch_model_is_refused_too(tmp_path):
    results, marker = tmp_path / "results", tmp_path / "unpickled"
    save_canary_joblib(save_torch_fold(results), marker)
    with pytest.raises(ValueError, match=r"model\.joblib"):
        load_fold_models(results, "naive_cnn")
    assert not marker.exists()


def test_a_sklearn_model_does_not_read_a_torch_file(tmp_path):
    results = tmp_path / "results"
    path = fold_dir(results, "logistic_regression")
    (path / "model.pt").write_bytes(b"not for a sklearn model")
    with pytest.raises(ValueError, match=r"holds model\.pt, but 'logistic_regression' is a sklearn model"):
        load_fold_models(results, "logistic_regression")


def test_a_missing_model_file_names_the_expected_one(tmp_path, capsys):
    results = tmp_path / "results"
    fold_dir(results, "naive_cnn")
    with pytest.raises(FileNotFoundError, match=r"model\.pt is missing \('naive_cnn' is a torch model\)"):
        load_fold_models(results, "naive_cnn")
    assert main(["predict", str(tmp_path / "x.mp4"), "--model", "naive_cnn", "--results", str(results)]) == 2
    assert "model.pt is missing" in capsys.readouterr().err


def test_a_model_file_of_another_model_is_refused(tmp_path):
    results = tmp_path / "results"
    save_torch_fold(results, "naive_cnn", saved_name="transfer")
    with pytest.raises(ValueError, match="holds model 'transfer', not 'naive_cnn'"):
        load_fold_models(results, "naive_cnn")


def test_torch_fold_models_still_load(tmp_path):
    results = tmp_path / "results"
    save_torch_fold(results, fold=0)
    save_torch_fold(results, fold=1)
    loaded = load_fold_models(results, "naive_cnn")
    assert [(m.kind, m.fold) for m in loaded] == [("torch", 0), ("torch", 1)]


def test_an_unregistered_model_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    code = main(["predict", str(tmp_path / "x.mp4"), "--model", "no_such_model", "--results", str(tmp_path / "results")])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert "unknown model 'no_such_model'" in lines[0] and "registered:" in lines[0]
    assert all(name in lines[0] for name in list_models())
    # fvc export shares the loader, and the same message.
    assert main(["export", "--model", "no_such_model", "--fold", "0", "--format", "onnx", "--results", str(tmp_path / "results")]) == 2
    assert "unknown model 'no_such_model'" in capsys.readouterr().err


@pytest.fixture
def unblock_fifo():
    """Open ``path`` for writing whenever a reader waits on it, so that code which opens it cannot hang the test.

    With ``O_NONBLOCK`` the open fails (ENXIO) while nobody reads, and never blocks; a reader that opened the
    FIFO gets end-of-file at once.
    """
    stop = threading.Event()
    threads = []

    def start(path: Path) -> None:
        def loop() -> None:
            while not stop.is_set():
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass
                time.sleep(0.05)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_paths_that_are_not_regular_files_get_an_error_row_and_the_rest_are_scored(tmp_path, make_video, capsys, unblock_fifo):
    results = tmp_path / "results"
    save_torch_fold(results)
    video = make_video("ok.mp4", n=6, height=32, width=48)
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    unblock_fifo(fifo)
    missing, folder = tmp_path / "missing.mp4", tmp_path / "folder.mp4"
    folder.mkdir()
    link = tmp_path / "link.mp4"
    link.symlink_to(video)  # a link to a regular file is fine

    started = time.monotonic()
    paths = [fifo, video, missing, folder, link]
    assert main(["predict", *map(str, paths), "--model", "naive_cnn", "--results", str(results)]) == 0
    assert time.monotonic() - started < 60
    captured = capsys.readouterr()
    table = pd.read_csv(io.StringIO(captured.out), keep_default_na=False).set_index("path")
    assert list(table.index) == [str(p) for p in paths]
    assert table.loc[str(fifo), "error"] == "not a regular file (a FIFO (named pipe))"
    assert table.loc[str(missing), "error"] == "no such file"
    assert table.loc[str(folder), "error"] == "not a regular file (a directory)"
    for scored in (video, link):
        assert table.loc[str(scored), "error"] == "" and 0.0 <= float(table.loc[str(scored), "score"]) <= 1.0
    assert f"fvc predict: {fifo}: not a regular file" in captured.err
    assert "3 of 5 file(s) could not be scored" in captured.err


def test_path_problem(tmp_path):
    regular = tmp_path / "a.mp4"
    regular.write_bytes(b"x")
    assert path_problem(regular) is None
    assert path_problem(tmp_path / "nope") == "no such file"
    assert path_problem(tmp_path) == "not a regular file (a directory)"
    if Path("/dev/null").exists():
        assert path_problem("/dev/null") == "not a regular file (a device)"
