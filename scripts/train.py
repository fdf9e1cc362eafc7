"""Snakemake entry point: train one model on one fold (fvc.learners.fold.train_fold)."""

from pathlib import Path

from fvc.data.recipe import ClipRecipe
from fvc.hpo.best import with_best_params
from fvc.learners import ClipSource, make_plan
from fvc.learners.fold import train_fold_tracked
from fvc.logs import log_to_file
from fvc.models.hub import WeightsConfig
from fvc.track import TrackingConfig

log_to_file(snakemake.log[0])
inputs, params = snakemake.input, snakemake.params
plan = make_plan(
    snakemake.wildcards.model,
    with_best_params(params.model_params, inputs.get("best_params")),
    ClipRecipe(name=params.clipset, **params.clip_recipe),
    seed=params.seed,
    # Where published weights are cached is not what a model is (their sha256 is, in metrics.json).
    weights=WeightsConfig.from_config(snakemake.config.get("weights")),
)
train_fold_tracked(
    plan,
    ClipSource(manifests=list(inputs.get("manifests", [])), features=inputs.get("features")),
    # From the config, not a rule param: where a run is logged is not what the model depends on, so changing
    # it (tracking off, another experiment or server) must not rerun training (rules/train.smk).
    tracking=TrackingConfig.from_config(snakemake.config.get("tracking")),
    store=params.mlruns,
    folds_path=inputs.folds,
    fold=int(snakemake.wildcards.fold),
    out_dir=Path(snakemake.output.complete).parent,
    checkpoint=params.checkpoint,
    threads=snakemake.threads,
)
