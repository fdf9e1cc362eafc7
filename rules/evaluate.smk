# Gather every (model, fold) into one comparison.


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
