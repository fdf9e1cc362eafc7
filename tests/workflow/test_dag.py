"""The workflow's DAG without running jobs: dry runs, targets, config rejection, lint, graphviz."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.workflow.runner import TINY, job_counts, run_snakemake, snakemake_cmd


def test_dry_run_of_the_full_dag(tmp_path):
    proc = run_snakemake(tmp_path, "-n")
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts == {
        "synth": 1, "index": 1, "split": 1, "clips": 4, "features": 2, "merge_features": 1, "train": 10,
        "compare": 1, "paired": 1, "plots": 1, "registry": 1, "rejected": 1, "all": 1,
    }  # fmt: skip
    assert not (tmp_path / "results").exists()


def test_one_target_builds_only_what_it_needs(tmp_path):
    proc = run_snakemake(tmp_path, "-n", "results/models/logistic_regression/fold_0/training_complete")
    counts = job_counts(proc.stdout + proc.stderr)
    # The folds need every configured clipset's clips (a video one clipset rejects is left out of every model).
    assert counts == {"synth": 1, "index": 1, "split": 1, "clips": 4, "features": 2, "merge_features": 1, "train": 1}
    proc = run_snakemake(tmp_path, "-n", "results/models/naive_cnn/fold_1/training_complete")
    assert job_counts(proc.stdout + proc.stderr) == {"synth": 1, "index": 1, "split": 1, "clips": 4, "train": 1}


def test_partial_configs_are_merged_over_the_workflow_defaults(tmp_path):
    """Run from elsewhere (``--directory``), a config names only what it changes; the repository's defaults fill in."""
    partial = tmp_path / "mine.yaml"
    partial.write_text("models: [svm, x3d]\nsplit: {folds: 4}\n")
    proc = run_snakemake(tmp_path, "-n", configfile=partial)
    counts = job_counts(proc.stdout + proc.stderr)
    # x3d reads the default `clip` clipset and svm `forensic` (2 default shards each); 4 folds per model.
    assert counts["clips"] == 4 and counts["train"] == 4 + 4
    # A project's own config/config.yaml in the working directory overrides the defaults; --configfile overrides both.
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("shards: 3\nsplit: {folds: 2}\n")
    proc = run_snakemake(tmp_path, "-n", configfile=partial)
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["clips"] == 6 and counts["train"] == 4 + 4


def test_invalid_config_stops_before_any_job(tmp_path):
    config = yaml.safe_load(TINY.read_text())
    config["split"]["fold"] = 3  # typo of 'folds'
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = run_snakemake(tmp_path, "--cores", "1", configfile=bad, check=False)
    assert proc.returncode != 0
    assert "unknown key 'split.fold'" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()


def test_lint_reports_only_deployment_advice(tmp_path):
    proc = run_snakemake(tmp_path, "--lint", check=False)
    lints = {line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip().startswith("* ")}
    # Rules run in the project's own pip environment on purpose (see README); everything else must be clean.
    assert lints <= {"* Specify a conda environment or container for each rule.:"}, lints


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' not installed (apt-get install graphviz)")
@pytest.mark.parametrize("graph", ["--dag", "--rulegraph"])
def test_graph_renders_with_dot(tmp_path, graph):
    dot_source = subprocess.run(snakemake_cmd(tmp_path, graph), capture_output=True, text=True, check=True).stdout
    svg = subprocess.run(["dot", "-Tsvg"], input=dot_source, capture_output=True, text=True, check=True).stdout
    assert "<svg" in svg and "train" in svg and "compare" in svg


def test_model_params_typo_on_the_command_line_stops_the_dry_run(tmp_path):
    proc = run_snakemake(tmp_path, "-n", "--config", "model_params={naive_cnn: {epochz: 3}}", check=False)
    assert proc.returncode != 0
    assert "config key 'model_params.naive_cnn.epochz': unknown parameter" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_nested_command_line_overrides_are_typed_by_the_schema(tmp_path):
    """``--config`` hands nested values over as strings ('false', '4'); the schema's types are restored."""
    proc = run_snakemake(tmp_path, "-n", "--config", "tracking={enabled: false}", "split={folds: 4}")
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["train"] == 4 * 4 + 4  # 4 feature models and one torch model, each range(config["split"]["folds"])
