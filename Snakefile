# fvc: train, evaluate and compare fake-video classifiers.
# Table of contents only; the stages live in rules/, the logic in the fvc package.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/clips.smk"
include: "rules/features.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
