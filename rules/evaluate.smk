# Gather every (model, fold) into one comparison: tables, paired statistics, plots and a model registry.

from fvc.evaluate.registry import provenance_config


rule compare:
    input:
        get_all_metrics,
    output:
        metrics=f"{RESULTS}/compare/metrics.parquet",
        summary=report(
            f"{RESULTS}/compare/summary.csv",
            caption="../workflow/report/summary.rst",
            category="Comparison",
        ),
    log:
        f"{RESULTS}/logs/compare.log",
    benchmark:
        f"{RESULTS}/benchmarks/compare/compare.tsv"
    script:
        "../scripts/compare.py"


rule paired:
    input:
        predictions=get_all_video_predictions,
    output:
        report(
            f"{RESULTS}/compare/paired.csv",
            caption="../workflow/report/paired.rst",
            category="Comparison",
        ),
    log:
        f"{RESULTS}/logs/paired.log",
    benchmark:
        f"{RESULTS}/benchmarks/paired/paired.tsv"
    params:
        seed=config["seed"],
    script:
        "../scripts/paired.py"


# How many plots there are depends on the data (learning curves only for models that record a history,
# the family plot only when the index names families), so the rule declares their folder.
rule plots:
    input:
        predictions=get_all_video_predictions,
        metrics=rules.compare.output.metrics,
        videos=rules.index.output.videos,
    output:
        report(
            directory(f"{RESULTS}/compare/plots"),
            patterns=["{name}.png"],
            caption="../workflow/report/plots.rst",
            category="Plots",
            subcategory=get_plot_subcategory,
            labels=get_plot_labels,
        ),
    log:
        f"{RESULTS}/logs/plots.log",
    benchmark:
        f"{RESULTS}/benchmarks/plots/plots.tsv"
    script:
        "../scripts/plots.py"


rule registry:
    input:
        metrics=get_all_metrics,
        complete=get_all_training_complete,
    output:
        f"{RESULTS}/registry.json",
    log:
        f"{RESULTS}/logs/registry.log",
    benchmark:
        f"{RESULTS}/benchmarks/registry/registry.tsv"
    params:
        # What the models depend on: not where MLflow logs, the cluster's partitions or a study's database.
        config=provenance_config(config),
    script:
        "../scripts/registry.py"


rule rejected:
    input:
        index=rules.index.output.rejected,
        videos=rules.index.output.videos,
        manifests=get_all_clip_manifests,
    output:
        f"{RESULTS}/rejected.csv",
    log:
        f"{RESULTS}/logs/rejected.log",
    script:
        "../scripts/rejected.py"
