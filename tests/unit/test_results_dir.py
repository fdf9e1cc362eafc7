"""The results folder check: `/`, the home folder and folders holding the input data are refused at parse time."""

from __future__ import annotations

import pytest

from fvc.config import ConfigError
from fvc.io.results_dir import check_results_dir

SYNTH = {"kind": "synth", "path": "data/synth"}


@pytest.mark.parametrize("results", ["/", "//", "/.", "/..", "///"])
def test_the_file_system_root_is_refused(tmp_path, results):
    with pytest.raises(ConfigError, match=r"config key 'results': .* root folder"):
        check_results_dir(results, SYNTH, cwd=tmp_path, home=tmp_path / "home")


@pytest.mark.parametrize("results", ["{home}", "{home}/", "{home}/.", "{home}/x/..", "."])
def test_the_home_folder_is_refused(tmp_path, results):
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(ConfigError, match=r"config key 'results': .* your home folder"):
        check_results_dir(results.format(home=home), SYNTH, cwd=home, home=home)


def test_a_link_to_the_home_folder_is_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "out").symlink_to(home, target_is_directory=True)
    with pytest.raises(ConfigError, match="home folder"):
        check_results_dir("out", SYNTH, cwd=tmp_path, home=home)


@pytest.mark.parametrize(
    ("results", "input_cfg", "key"),
    [
        (".", {"kind": "synth", "path": "data/synth"}, "input.path"),
        ("data", {"kind": "synth", "path": "data/synth"}, "input.path"),
        ("data/synth", {"kind": "synth", "path": "data/synth"}, "input.path"),
        ("data/synth/", {"kind": "synth", "path": "./data/synth/"}, "input.path"),
        ("videos", {"kind": "folder", "path": "videos/mine"}, "input.path"),
        ("{tmp}", {"kind": "folder", "path": "videos"}, "input.path"),
        ("sheets", {"kind": "sheet", "path": "sheets/samples.csv"}, "input.path"),  # the sheet's folder
        ("media", {"kind": "sheet", "path": "samples.csv", "root": "media/videos"}, "input.root"),
        ("media/videos", {"kind": "sheet", "path": "samples.csv", "root": "{tmp}/media/videos"}, "input.root"),
    ],
)
def test_a_folder_holding_the_input_data_is_refused(tmp_path, results, input_cfg, key):
    input_cfg = {k: v.format(tmp=tmp_path) for k, v in input_cfg.items()}
    with pytest.raises(ConfigError, match=rf"config key 'results': .* the input data folder of '{key}'"):
        check_results_dir(results.format(tmp=tmp_path), input_cfg, cwd=tmp_path, home=tmp_path / "home")


@pytest.mark.parametrize(
    ("results", "input_cfg"),
    [
        ("results", {"kind": "synth", "path": "data/synth"}),
        ("data/results", {"kind": "synth", "path": "data/synth"}),  # a sibling of the data, not an ancestor
        ("data/synth-results", {"kind": "synth", "path": "data/synth"}),  # a name prefix is not an ancestor
        (".", {"kind": "folder", "path": "/srv/videos"}),  # the working folder, with the data elsewhere
        ("out", {"kind": "sheet", "path": "samples.csv", "root": None}),
        ("{home}/fvc-results", {"kind": "synth", "path": "data/synth"}),  # below home is fine
    ],
)
def test_a_folder_of_its_own_is_accepted(tmp_path, results, input_cfg):
    home = tmp_path / "home"
    resolved = check_results_dir(results.format(home=home), input_cfg, cwd=tmp_path, home=home)
    assert resolved.is_absolute()


def test_a_dry_run_with_results_at_the_root_fails_naming_the_key(tmp_path):
    from tests.workflow.runner import run_snakemake

    proc = run_snakemake(tmp_path, "-n", "--config", "results=/", check=False, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'results': '/' is the file system's root folder" in output, output[-3000:]
    assert not (tmp_path / "data").exists()  # stopped at parse time, before anything was made
