"""Snakemake entry point: every finished fold's metrics and model file -> registry.json (config hash, code version)."""

from fvc.evaluate.registry import write_registry
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
write_registry(snakemake.output[0], snakemake.input.metrics, snakemake.params.config)
