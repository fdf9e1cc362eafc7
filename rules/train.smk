# One job per (model, fold); `training_complete` is written last by fvc.train.fold.


rule train:
    input:
        unpack(get_train_input),
    output:
        model=f"{RESULTS}/models/{{model}}/fold_{{fold}}/model.joblib",
        predictions=f"{RESULTS}/models/{{model}}/fold_{{fold}}/predictions.parquet",
        metrics=f"{RESULTS}/models/{{model}}/fold_{{fold}}/metrics.json",
        complete=f"{RESULTS}/models/{{model}}/fold_{{fold}}/training_complete",
    log:
        f"{RESULTS}/logs/train/{{model}}/fold_{{fold}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{model}}_fold_{{fold}}.tsv"
    threads: get_model_resources("threads")
    resources:
        mem_mb=get_model_resources("mem_mb"),
        runtime=get_model_resources("runtime"),
        gpu=get_model_resources("gpu"),
    params:
        model_params=lambda wildcards: model_params(wildcards.model),
        seed=config["seed"],
    script:
        "../scripts/train.py"
