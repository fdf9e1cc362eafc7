"""Snakemake entry point: write the embedded synthetic corpus (see `fvc synth`)."""

from pathlib import Path

from fvc.data.synth import SynthConfig, generate_corpus
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
cfg = SynthConfig(seed=snakemake.params.seed, **snakemake.params.synth)
generate_corpus(Path(snakemake.output[0]).parent, cfg, progress=True, workers=snakemake.threads)
