# Hyper-parameter search per model (config `hpo.<model>`); its best_params.json feeds the model's train rules.
# The study's storage (study.db) and trial checkpoints are not outputs: Snakemake deletes the outputs of a
# failed or killed job, and those files are what lets the rerun resume instead of starting over.
# Params are provenance (a changed one reruns the search), so they leave out what the best parameters do not
# depend on: the tracking settings and `hpo.<model>.storage` (where the study lives; a database URL may
# hold a password, and params are stored in .snakemake/metadata). scripts/hpo.py reads both from the config.


rule hpo:
    input:
        unpack(get_model_data),
        folds=rules.split.output[0],
    output:
        best=f"{RESULTS}/hpo/{{model}}/best_params.json",
        trials=f"{RESULTS}/hpo/{{model}}/trials.parquet",
        plots=report(
            directory(f"{RESULTS}/hpo/{{model}}/plots"),
            patterns=["{name}.png"],
            caption="../workflow/report/hpo.rst",
            category="Hyper-parameter search",
            subcategory=get_hpo_plot_subcategory,
            labels=get_hpo_plot_labels,
        ),
        complete=f"{RESULTS}/hpo/{{model}}/study_complete",
    log:
        f"{RESULTS}/logs/hpo/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/hpo/{{model}}.tsv"
    wildcard_constraints:
        model=HPO_MODELS_RE,
    threads: get_model_resource("threads")
    resources:
        mem_mb=get_model_resource("mem_mb"),
        runtime=get_hpo_runtime,
        gpu=get_model_resource("gpu"),
        slurm_partition=get_slurm_partition,
    params:
        model_params=get_model_params,
        hpo=get_hpo_settings,
        clipset=get_model_clipset,
        clip_recipe=get_model_clip_recipe,
        storage=get_hpo_storage,
        checkpoints=get_hpo_checkpoints,
        seed=config["seed"],
        mlruns=f"{RESULTS}/mlruns",
    script:
        "../scripts/hpo.py"
