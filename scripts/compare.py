"""Snakemake entry point: every fold's metrics -> metrics.parquet and summary.csv."""

from fvc.evaluate.compare import collect_metrics, summarise
from fvc.io.atomic import atomic_path, write_parquet
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
metrics = collect_metrics(snakemake.input)
write_parquet(snakemake.output.metrics, metrics)
with atomic_path(snakemake.output.summary) as tmp:
    summarise(metrics).to_csv(tmp, index=False)
