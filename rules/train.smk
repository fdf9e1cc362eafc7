# One job per (model, fold); `training_complete` is written last by fvc.learners.fold.
# The model's learner decides what it reads (its clipset's feature table or clip shards, get_train_inputs)
# and the file it saves (model.joblib, model.pt: named in metrics.json); a model with an `hpo` entry also
# reads its search's best_params.json, whose values win over model_params. The model file is not declared
# as an output because its name depends on the model's kind; training_complete vouches for it.
# Params are provenance: Snakemake reruns a job when one changes. So they hold only what the model depends
# on; the tracking settings (config `tracking`: on/off, server, experiment name) are read by scripts/train.py
# from the config, and `mlruns` and `checkpoint` are paths fixed by `results`.


rule train:
    input:
        unpack(get_train_inputs),
        folds=rules.split.output[0],
    output:
        predictions=f"{RESULTS}/models/{{model}}/fold_{{fold}}/predictions.parquet",
        video_predictions=f"{RESULTS}/models/{{model}}/fold_{{fold}}/video_predictions.parquet",
        metrics=f"{RESULTS}/models/{{model}}/fold_{{fold}}/metrics.json",
        complete=f"{RESULTS}/models/{{model}}/fold_{{fold}}/training_complete",
    log:
        f"{RESULTS}/logs/train/{{model}}/fold_{{fold}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{model}}_fold_{{fold}}.tsv"
    wildcard_constraints:
        model=MODELS_RE,
    threads: get_model_resource("threads")
    resources:
        mem_mb=get_model_resource("mem_mb"),
        runtime=get_model_resource("runtime"),
        gpu=get_model_resource("gpu"),
        slurm_partition=get_slurm_partition,
    params:
        model_params=get_model_params,
        clipset=get_model_clipset,
        clip_recipe=get_model_clip_recipe,
        checkpoint=get_train_checkpoint,
        seed=config["seed"],
        mlruns=f"{RESULTS}/mlruns",
    script:
        "../scripts/train.py"
