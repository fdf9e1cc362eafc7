# One job per (model, fold); `training_complete` is written last by fvc.train.fold.
# scikit-learn models read a clipset's feature table, torch models its clip shards; a model with an `hpo`
# entry also reads its search's best_params.json, whose values win over model_params.
# Params are provenance: Snakemake reruns a job when one changes. So they hold only what the model depends
# on; the tracking settings (config `tracking`: on/off, server, experiment name) are read by scripts/train.py
# from the config, and `mlruns` and `checkpoint` are paths fixed by `results`.


rule train_sklearn:
    input:
        unpack(get_best_params_input),
        features=get_features_table,
        folds=rules.split.output[0],
    output:
        model=f"{RESULTS}/models/{{model}}/fold_{{fold}}/model.joblib",
        predictions=f"{RESULTS}/models/{{model}}/fold_{{fold}}/predictions.parquet",
        metrics=f"{RESULTS}/models/{{model}}/fold_{{fold}}/metrics.json",
        complete=f"{RESULTS}/models/{{model}}/fold_{{fold}}/training_complete",
    log:
        f"{RESULTS}/logs/train/{{model}}/fold_{{fold}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{model}}_fold_{{fold}}.tsv"
    wildcard_constraints:
        model=SKLEARN_MODELS_RE,
    threads: get_model_resource("threads")
    resources:
        mem_mb=get_model_resource("mem_mb"),
        runtime=get_model_resource("runtime"),
        slurm_partition=get_slurm_partition,
    params:
        model_params=lambda wildcards: model_params(wildcards.model),
        clip_recipe=lambda wildcards: config["clipsets"][model_clipset(wildcards.model)],
        seed=config["seed"],
        mlruns=f"{RESULTS}/mlruns",
    script:
        "../scripts/train.py"


rule train_torch:
    input:
        unpack(get_best_params_input),
        manifests=get_model_clip_manifests,
        folds=rules.split.output[0],
    output:
        model=f"{RESULTS}/models/{{model}}/fold_{{fold}}/model.pt",
        predictions=f"{RESULTS}/models/{{model}}/fold_{{fold}}/predictions.parquet",
        history=f"{RESULTS}/models/{{model}}/fold_{{fold}}/history.csv",
        metrics=f"{RESULTS}/models/{{model}}/fold_{{fold}}/metrics.json",
        complete=f"{RESULTS}/models/{{model}}/fold_{{fold}}/training_complete",
    log:
        f"{RESULTS}/logs/train/{{model}}/fold_{{fold}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{model}}_fold_{{fold}}.tsv"
    wildcard_constraints:
        model=TORCH_MODELS_RE,
    threads: get_model_resource("threads")
    resources:
        mem_mb=get_model_resource("mem_mb"),
        runtime=get_model_resource("runtime"),
        gpu=get_model_resource("gpu"),
        slurm_partition=get_slurm_partition,
    params:
        model_params=lambda wildcards: model_params(wildcards.model),
        clip_recipe=lambda wildcards: config["clipsets"][model_clipset(wildcards.model)],
        checkpoint=lambda wildcards: f"{RESULTS}/checkpoints/{wildcards.model}/fold_{wildcards.fold}/last.pt",
        seed=config["seed"],
        mlruns=f"{RESULTS}/mlruns",
    script:
        "../scripts/train.py"
