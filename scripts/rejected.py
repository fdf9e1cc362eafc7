"""Snakemake entry point: every input left out, by any stage, with its reason -> results/rejected.csv."""

import pandas as pd

from fvc.data.index import collect_rejections
from fvc.io.atomic import atomic_path
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
table = collect_rejections(
    pd.read_csv(snakemake.input.index, keep_default_na=False),
    pd.read_parquet(snakemake.input.videos),
    snakemake.input.manifests,
)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
