"""Snakemake entry point: handcrafted features of one clip shard."""

from fvc.features.extract import shard_features
from fvc.io.atomic import write_parquet
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
write_parquet(snakemake.output[0], shard_features(snakemake.input.manifest, progress=True))
