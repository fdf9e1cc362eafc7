# Inputs -> index -> cross-validation folds.


rule synth:
    output:
        Path(config["input"]["path"]) / "samples.csv",
    log:
        f"{RESULTS}/logs/synth.log",
    benchmark:
        f"{RESULTS}/benchmarks/synth/synth.tsv"
    # Scenes render in parallel processes (the bytes do not depend on how many); Snakemake scales the
    # request down to --cores.
    threads: 4
    params:
        synth=config.get("synth", {}),
        seed=config["seed"],
    script:
        "../scripts/synth.py"


rule index:
    input:
        get_index_input,
    output:
        videos=f"{RESULTS}/index/videos.parquet",
        rejected=f"{RESULTS}/index/rejected.csv",
    log:
        f"{RESULTS}/logs/index.log",
    benchmark:
        f"{RESULTS}/benchmarks/index/index.tsv"
    params:
        source=config["input"],
        max_file_mb=config.get("index", {}).get("max_file_mb"),
    script:
        "../scripts/index.py"


# Folds are made after the clips stage, from the videos every clipset decoded: a video one clipset cannot
# use is left out of every model (rejected.csv says which clipset and why), never scored for some only.
rule split:
    input:
        videos=rules.index.output.videos,
        manifests=get_all_clip_manifests,
    output:
        folds=f"{RESULTS}/splits/folds.parquet",
        balance=f"{RESULTS}/splits/fold_balance.csv",
    log:
        f"{RESULTS}/logs/split.log",
    benchmark:
        f"{RESULTS}/benchmarks/split/split.tsv"
    params:
        folds=len(FOLDS),
        strategy=SPLIT_STRATEGY,
        families=HELDOUT_FAMILIES,
        seed=config["seed"],
    script:
        "../scripts/split.py"
