# fvc: train, evaluate and compare fake-video classifiers.
# Table of contents only; the stages live in rules/, the logic in the fvc package.

from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# Defaults come from this workflow's own config/config.yaml, whatever the working directory (`--directory`,
# `snakemake -s path/to/fvc/Snakefile`); a config/config.yaml in the working directory (a deployed project's
# own), then `--configfile` and `--config` override them key by key.
configfile: f"{workflow.basedir}/config/config.yaml"


if Path("config/config.yaml").is_file() and not Path("config/config.yaml").samefile(
    f"{workflow.basedir}/config/config.yaml"
):

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/clips.smk"
include: "rules/features.smk"
include: "rules/hpo.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/test.smk"


onstart:
    sweep_orphan_temps()


rule all:
    default_target: True
    input:
        get_final_output(),
