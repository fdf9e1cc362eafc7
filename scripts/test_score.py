"""Snakemake entry point: one model's folds and their ensemble score one test set (fvc.inference.test_sets)."""

from pathlib import Path

import pandas as pd

from fvc.data.index import collect_rejections
from fvc.inference.test_sets import score_test_set
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
inputs = snakemake.input
videos = pd.read_parquet(inputs.videos)
manifests = list(inputs.manifests)
# The models' results folder: where the training corpus's index lies (results/index/videos.parquet).
results = Path(inputs.training_videos).parent.parent
score_test_set(
    results,
    snakemake.wildcards.model,
    snakemake.wildcards.test_set,
    videos,
    training_videos=pd.read_parquet(inputs.training_videos),
    out_dir=Path(snakemake.output.metrics[0]).parent.parent,
    manifests=manifests,
    features=inputs.get("features"),
    # Left out by the index, or by the clips stage of this model's clipset: listed, the rest scored.
    rejected=collect_rejections(pd.read_csv(inputs.rejected, keep_default_na=False), videos, manifests),
)
