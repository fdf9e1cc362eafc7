"""What reruns a finished workflow: rule params are provenance, so settings a model does not depend on must
not be params. Turning MLflow tracking off or renaming the experiment reruns nothing (rules/train.smk,
rules/hpo.smk; scripts/train.py reads `tracking` from the config)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.workflow.runner import TINY, job_counts, run_snakemake

pytestmark = pytest.mark.slow


@pytest.fixture
def finished_run(tiny_run) -> Path:
    """The session's finished tiny run (tests/workflow/conftest.py); every test here only dry-runs it or reads its
    --summary."""
    return tiny_run


def _tiny_with(tmp_path: Path, **overrides) -> Path:
    """tests/configs/tiny plus ``overrides``, as one config file (not relying on how repeated --configfile combine)."""
    config = yaml.safe_load(TINY.read_text()) | overrides
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def summary(workdir: Path, configfile: Path = TINY) -> dict[str, tuple[str, str, str]]:
    """``snakemake --summary``: {output file: (rule, status, plan)}; status is "ok", "params changed", ...

    (`--list-changes params` cannot tell: Snakemake 9.27.1 lists every output with recorded params, changed
    or not, because an empty ParamsChange still iterates over its files.)
    """
    proc = run_snakemake(workdir, "--summary", configfile=configfile)
    rows = [line.split("\t") for line in proc.stdout.splitlines() if line.count("\t") == 5]
    assert rows and rows[0] == ["output_file", "date", "rule", "log-file(s)", "status", "plan"], proc.stdout[-2000:]
    return {path: (rule, status, plan) for path, _, rule, _, status, plan in rows[1:]}


TRACKING_CHANGES = pytest.mark.parametrize(
    "tracking",
    [{"enabled": False}, {"enabled": True, "experiment": "renamed"}, {"enabled": True, "uri": "http://127.0.0.1:9/"}],
    ids=["tracking-off", "experiment-renamed", "tracking-server"],
)


def test_the_finished_run_is_up_to_date(finished_run):
    status = summary(finished_run)
    assert any(rule == "train" and "/models/naive_cnn/" in path for path, (rule, _, _) in status.items())
    assert {s for _, s, _ in status.values()} == {"ok"} and {p for _, _, p in status.values()} == {"no update"}, status


@TRACKING_CHANGES
def test_changing_the_tracking_settings_reruns_nothing(finished_run, tmp_path, tracking):
    configfile = _tiny_with(tmp_path, tracking=tracking)
    dry = run_snakemake(finished_run, "-n", configfile=configfile)
    assert job_counts(dry.stdout + dry.stderr) == {}, dry.stdout[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr
    assert {s for _, s, _ in summary(finished_run, configfile).values()} == {"ok"}


def test_a_model_setting_still_reruns_that_model(finished_run, tmp_path):
    """The other side: model_params are provenance, so changing one reruns that model's folds (and what reads them)."""
    config = yaml.safe_load(TINY.read_text())
    configfile = _tiny_with(tmp_path, model_params={**config["model_params"], "random_forest": {"n_estimators": 7}})
    changed = sorted(path for path, (_, status, _) in summary(finished_run, configfile).items() if status == "params changed")
    models = [path for path in changed if "/models/" in path]
    assert models and all("/models/random_forest/" in path for path in models), changed
    assert set(changed) - set(models) <= {"results/registry.json"}, changed  # the registry records the config's hash
    dry = run_snakemake(finished_run, "-n", configfile=configfile).stdout
    counts = job_counts(dry)
    assert counts.get("train") == 2, counts  # random_forest's two folds; no other model's
    assert "random_forest" in dry and "naive_cnn" not in dry.split("Job stats")[-1].split("rule train")[-1], dry[-3000:]
