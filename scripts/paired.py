"""Snakemake entry point: fold video predictions -> paired.csv (per-pair AUC differences, bootstrap CI, Wilcoxon p)."""

from fvc.evaluate.predictions import collect_video_scores
from fvc.evaluate.stats import paired_auc_comparison
from fvc.io.atomic import atomic_path
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
table = paired_auc_comparison(collect_video_scores(snakemake.input.predictions), seed=snakemake.params.seed)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
