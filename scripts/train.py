"""Snakemake entry point: train one model on one fold (fvc.train.fold.train_fold)."""

from pathlib import Path

from fvc.logs import log_to_file
from fvc.train.fold import train_fold

log_to_file(snakemake.log[0])
train_fold(
    snakemake.wildcards.model,
    dict(snakemake.params.model_params),
    features_path=snakemake.input.features,
    folds_path=snakemake.input.folds,
    fold=int(snakemake.wildcards.fold),
    seed=snakemake.params.seed,
    out_dir=Path(snakemake.output.complete).parent,
    threads=snakemake.threads,
)
