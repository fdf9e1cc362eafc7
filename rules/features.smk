# Handcrafted features per clip shard, merged per clipset with the index's codec cues.


rule features:
    input:
        manifest=f"{RESULTS}/clips/{{clipset}}/shard_{{shard}}/manifest.parquet",
    output:
        f"{RESULTS}/features/{{clipset}}/shard_{{shard}}.parquet",
    log:
        f"{RESULTS}/logs/features/{{clipset}}/shard_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/features/{{clipset}}_shard_{{shard}}.tsv"
    resources:
        # A retry after an out-of-memory kill or a time-out asks for more (docs/cluster.md).
        mem_mb=get_stage_mem_mb,
        runtime=get_stage_runtime,
    script:
        "../scripts/features.py"


rule merge_features:
    input:
        shards=get_feature_shards,
        videos=rules.index.output.videos,
    output:
        f"{RESULTS}/features/{{clipset}}.parquet",
    log:
        f"{RESULTS}/logs/features/{{clipset}}/merge.log",
    benchmark:
        f"{RESULTS}/benchmarks/merge_features/{{clipset}}.tsv"
    script:
        "../scripts/merge_features.py"
