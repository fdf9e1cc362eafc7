"""Snakemake entry point: one model's hyper-parameter search (fvc.hpo.study.run_search)."""

from fvc.data.recipe import ClipRecipe
from fvc.hpo.study import run_search
from fvc.logs import log_to_file
from fvc.models.hub import WeightsConfig
from fvc.track import TrackingConfig

log_to_file(snakemake.log[0])
inputs, params, output = snakemake.input, snakemake.params, snakemake.output
model = snakemake.wildcards.model
# The rule's `hpo` param leaves out `storage` and the tracking settings (not provenance, rules/hpo.smk); both
# come from the config here.
hpo = dict(params.hpo)
if (snakemake.config.get("hpo") or {}).get(model, {}).get("storage") is not None:
    hpo["storage"] = snakemake.config["hpo"][model]["storage"]
run_search(
    model,
    dict(params.model_params),
    hpo,
    folds_path=inputs.folds,
    seed=params.seed,
    outputs={"best": output.best, "trials": output.trials, "plots": output.plots, "complete": output.complete},
    storage_path=params.storage,
    checkpoints=params.checkpoints,
    recipe=ClipRecipe(name=params.clipset, **params.clip_recipe),
    features_path=inputs.get("features"),
    manifests=list(inputs.get("manifests", [])),
    threads=snakemake.threads,
    tracking=TrackingConfig.from_config(snakemake.config.get("tracking")),
    store=params.mlruns,
    weights=WeightsConfig.from_config(snakemake.config.get("weights")),
)
