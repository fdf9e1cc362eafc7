"""Snakemake entry point: clip arrays + manifest for one (clipset, shard)."""

from pathlib import Path

import pandas as pd

from fvc.augment import AugmentConfig
from fvc.data.clips import extract_shard
from fvc.data.recipe import ClipRecipe
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
recipe = ClipRecipe(name=snakemake.wildcards.clipset, **snakemake.params.recipe)
videos = pd.read_parquet(snakemake.input.videos)
extract_shard(
    videos,
    int(snakemake.wildcards.shard),
    snakemake.params.shards,
    recipe,
    Path(snakemake.output[0]).parent,
    seed=snakemake.params.seed,
    augment=AugmentConfig.from_config(snakemake.params.augment),
    progress=True,
)
