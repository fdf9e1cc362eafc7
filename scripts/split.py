"""Snakemake entry point: stratified group k-fold over the videos every clipset decoded -> folds.parquet."""

import pandas as pd

from fvc.data.index import decodable_everywhere
from fvc.data.splits import make_folds
from fvc.io.atomic import write_parquet
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
videos = decodable_everywhere(pd.read_parquet(snakemake.input.videos), snakemake.input.manifests)
write_parquet(snakemake.output[0], make_folds(videos, snakemake.params.folds, snakemake.params.seed))
