"""Snakemake entry point: folds over the videos every clipset decoded -> folds.parquet, fold_balance.csv
(fvc.data.splits: stratified group k-fold, or one fold per manipulation family)."""

import pandas as pd

from fvc.data.index import decodable_everywhere
from fvc.data.splits import fold_balance_table, make_family_folds, make_folds
from fvc.io.atomic import write_parquet, write_text
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
params = snakemake.params
videos = decodable_everywhere(pd.read_parquet(snakemake.input.videos), snakemake.input.manifests)
if params.strategy == "leave_one_family_out":
    folds = make_family_folds(videos, list(params.families), params.seed)
else:
    folds = make_folds(videos, params.folds, params.seed)
write_parquet(snakemake.output.folds, folds)
write_text(snakemake.output.balance, fold_balance_table(folds, list(params.families)).to_csv(index=False))
