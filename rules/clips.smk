# Decode, sample and scale every indexed video into clip arrays, one job per (clipset, shard).


rule clips:
    input:
        videos=rules.index.output.videos,
    output:
        f"{RESULTS}/clips/{{clipset}}/shard_{{shard}}/manifest.parquet",
    log:
        f"{RESULTS}/logs/clips/{{clipset}}/shard_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/clips/{{clipset}}_shard_{{shard}}.tsv"
    resources:
        # A retry after an out-of-memory kill or a time-out asks for more (docs/cluster.md).
        mem_mb=get_stage_mem_mb,
        runtime=get_stage_runtime,
    params:
        recipe=get_clip_recipe,
        shards=config["shards"],
        seed=config["seed"],
        augment=config.get("augment", {}),
    script:
        "../scripts/clips.py"
