"""Snakemake entry point: every test set's scores -> compare/test_summary.csv and the test-set plots."""

import pandas as pd

from fvc.evaluate.plots import write_test_plots
from fvc.evaluate.test_sets import collect_test_metrics, summarise_test_sets
from fvc.io.atomic import write_text
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
table = summarise_test_sets(collect_test_metrics(snakemake.input.metrics), pd.read_csv(snakemake.input.cv))
write_text(snakemake.output.summary, table.to_csv(index=False))
write_test_plots(table, snakemake.input.predictions, snakemake.output.plots)
