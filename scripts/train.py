"""Snakemake entry point: train one model on one fold (fvc.train.fold.train_fold)."""

from pathlib import Path

from fvc.hpo.best import with_best_params
from fvc.logs import log_to_file
from fvc.models.hub import WeightsConfig
from fvc.track import TrackingConfig
from fvc.train.fold import train_fold_tracked

log_to_file(snakemake.log[0])
inputs, params = snakemake.input, snakemake.params
train_fold_tracked(
    snakemake.wildcards.model,
    with_best_params(params.model_params, inputs.get("best_params")),
    # From the config, not a rule param: where a run is logged is not what the model depends on, so changing
    # it (tracking off, another experiment or server) must not rerun training (rules/train.smk).
    tracking=TrackingConfig.from_config(snakemake.config.get("tracking")),
    store=params.mlruns,
    folds_path=inputs.folds,
    fold=int(snakemake.wildcards.fold),
    seed=params.seed,
    out_dir=Path(snakemake.output.complete).parent,
    features_path=inputs.get("features"),
    manifests=list(inputs.manifests) if "manifests" in inputs.keys() else None,
    checkpoint=params.get("checkpoint"),
    clip_recipe=dict(params.clip_recipe),
    threads=snakemake.threads,
    # Where published weights are cached is not what a model is (their sha256 is, in metrics.json).
    weights=WeightsConfig.from_config(snakemake.config.get("weights")),
)
