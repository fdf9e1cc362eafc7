"""Snakemake entry point: probe every input file -> videos.parquet + rejected.csv."""

from fvc.data.index import build_index
from fvc.data.sources import load_samples
from fvc.io.atomic import atomic_path, write_parquet
from fvc.logs import log_to_file

log_to_file(snakemake.log[0])
source = snakemake.params.source
samples, rejections = load_samples(source["kind"], source["path"], source.get("root"))
max_mb = snakemake.params.max_file_mb
result = build_index(samples, rejections, max_file_bytes=int(max_mb * 2**20) if max_mb else None, progress=True)
with atomic_path(snakemake.output.rejected) as tmp:
    result.rejected.to_csv(tmp, index=False)
write_parquet(snakemake.output.videos, result.videos)
