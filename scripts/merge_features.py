"""Snakemake entry point: merge a clipset's feature shards and add codec cues."""

import pandas as pd

from fvc.features.extract import merge_feature_shards
from fvc.io.atomic import write_parquet
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
videos = pd.read_parquet(snakemake.input.videos)
write_parquet(snakemake.output[0], merge_feature_shards(snakemake.input.shards, videos))
