"""Snakemake entry point: fold video predictions (+ histories beside them), metrics and index -> compare/plots/*.png."""

from fvc.evaluate.plots import plot_results
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
plot_results(snakemake.input.predictions, snakemake.input.metrics, snakemake.output[0], videos_path=snakemake.input.videos)
