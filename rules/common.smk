# Validation, paths and input functions shared by every rule file.

from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from fvc.config import ConfigError
from fvc.settings import validate_config
from fvc.data.splits import heldout_families
from fvc.io.results_dir import check_results_dir
from fvc.learners import reads
from fvc.models import get_spec, resolve_params

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(f"{error}\n(see fvc/schemas/config.schema.yaml)") from None

try:
    check_results_dir(str(config["results"]), config["input"])
except ConfigError as error:
    raise WorkflowError(str(error)) from None

RESULTS = config["results"].rstrip("/")
MODELS = list(config["models"])
SPLIT_STRATEGY = config["split"].get("strategy", "group_kfold")
# leave_one_family_out: one fold per manipulation family, known from the config before anything runs.
HELDOUT_FAMILIES = heldout_families(config) if SPLIT_STRATEGY == "leave_one_family_out" else []
FOLDS = list(range(len(HELDOUT_FAMILIES) or config["split"]["folds"]))
SHARDS = list(range(config["shards"]))


def model_params(model):
    return resolve_params(model, (config.get("model_params") or {}).get(model))


def model_clipset(model):
    return model_params(model)["clipset"]


# Only the clipsets some configured model reads are built; feature tables only for feature models. The folds
# hold the videos every one of these clipsets decodes (rules/data.smk, split), so every model trains and is
# scored on the same videos; a change of `models` that changes this set of clipsets re-makes the folds.
CLIPSETS = sorted({model_clipset(m) for m in MODELS})
FEATURE_CLIPSETS = sorted(
    {model_clipset(m) for m in MODELS if get_spec(m).input == "features"}
)

# Models with a hyper-parameter search (config `hpo`); an entry for a model not in `models` is kept but idle.
HPO = config.get("hpo") or {}
HPO_MODELS = [m for m in MODELS if m in HPO]
HPO_MODELS_RE = "|".join(HPO_MODELS) if HPO_MODELS else "(?!)"
MODELS_RE = "|".join(MODELS) if MODELS else "(?!)"


# External test sets (rules/test.smk): name -> source, as `input`.
# An entry set to null is dropped (Snakemake merges configs key by key, so a null is how a config removes one).
TEST_SETS = {name: source for name, source in (config.get("test_sets") or {}).items() if source}
# What scoring a test set writes per model: each fold model's scores, and their ensemble's.
TEST_PARTS = [f"fold_{fold}" for fold in FOLDS] + ["ensemble"]


def test_set_seed(name):
    """A synthetic test set's seed: its own, else the master seed + 1 (never the training corpus's)."""
    return int(TEST_SETS[name].get("seed", config["seed"] + 1))


wildcard_constraints:
    model="|".join(MODELS),
    test_set="|".join(TEST_SETS) if TEST_SETS else "(?!)",
    fold=r"\d+",
    shard=r"\d+",
    clipset="|".join(CLIPSETS),


def sweep_orphan_temps():
    """Delete fvc's temp files of writes killed before their rename; no job is running yet.

    Only names with fvc's marker (fvc.io.atomic), only under the results folder, which
    check_results_dir (fvc.io.results_dir) has vetted at parse time.
    """
    from fvc.io.atomic import sweep_orphans

    removed = sweep_orphans(RESULTS) if Path(RESULTS).is_dir() else []
    if removed:
        logger.info(
            f"removed {len(removed)} temp file(s) left by killed writes under {RESULTS}/"
        )


def get_final_output():
    outputs = [
        f"{RESULTS}/compare/summary.csv",
        f"{RESULTS}/compare/metrics.parquet",
        f"{RESULTS}/compare/paired.csv",
        f"{RESULTS}/compare/plots",
        f"{RESULTS}/registry.json",
        f"{RESULTS}/rejected.csv",
    ]
    if TEST_SETS:
        outputs += [f"{RESULTS}/compare/test_summary.csv", f"{RESULTS}/compare/test_plots"]
    return outputs


def get_test_index_input(wildcards):
    """What a test set's index depends on, as for the training corpus."""
    return source_files(TEST_SETS[wildcards.test_set])


def get_test_score_data(wildcards):
    """A model scores a test set from what it was trained on: the set's feature table or its clip shards (the
    shards always: their manifests say which files the clips stage refused)."""
    clipset = model_clipset(wildcards.model)
    base = f"{RESULTS}/test/{wildcards.test_set}"
    manifests = expand(f"{base}/clips/{clipset}/shard_{{shard}}/manifest.parquet", shard=SHARDS)
    if reads(wildcards.model) == "features":
        return {"features": f"{base}/features/{clipset}.parquet", "manifests": manifests}
    return {"manifests": manifests}


def get_test_source(wildcards):
    return TEST_SETS[wildcards.test_set]


def get_test_clip_recipe(wildcards):
    """A test set's clips: the clipset's recipe, untouched copies only (augmented copies are for training)."""
    return {**config["clipsets"][wildcards.clipset], "copies": 0}


def get_test_feature_shards(wildcards):
    return expand(
        f"{RESULTS}/test/{wildcards.test_set}/features/{wildcards.clipset}/shard_{{shard}}.parquet",
        shard=SHARDS,
    )


def get_model_training_complete(wildcards):
    """Every fold's training_complete of one model (a test set is scored by all of them in one job)."""
    return expand(
        f"{RESULTS}/models/{wildcards.model}/fold_{{fold}}/training_complete", fold=FOLDS
    )


def get_all_test_metrics(wildcards):
    return expand(
        f"{RESULTS}/test/{{test_set}}/{{model}}/{{part}}/metrics.json",
        test_set=TEST_SETS,
        model=MODELS,
        part=TEST_PARTS,
    )


def get_all_test_predictions(wildcards):
    return expand(
        f"{RESULTS}/test/{{test_set}}/{{model}}/{{part}}/predictions.parquet",
        test_set=TEST_SETS,
        model=MODELS,
        part=TEST_PARTS,
    )


def get_index_input(wildcards):
    return source_files(config["input"])


def source_files(source):
    """What indexing a source (`input`, a test set) depends on: the synthetic corpus's sheet, the user's
    sheet, or the class folders."""
    kind, path = source["kind"], Path(source["path"])
    if kind == "synth":
        return [str(path / "samples.csv")]
    if kind == "sheet":
        return [str(path)]
    # A folder's mtime changes when files are added or removed, which reruns the index.
    return [str(path / label) for label in ("real", "fake") if (path / label).is_dir()]


def get_clip_recipe(wildcards):
    return config["clipsets"][wildcards.clipset]


def get_clip_manifests(wildcards):
    return expand(
        f"{RESULTS}/clips/{wildcards.clipset}/shard_{{shard}}/manifest.parquet",
        shard=SHARDS,
    )


def get_all_clip_manifests(wildcards):
    return expand(
        f"{RESULTS}/clips/{{clipset}}/shard_{{shard}}/manifest.parquet",
        clipset=CLIPSETS,
        shard=SHARDS,
    )


def get_feature_shards(wildcards):
    return expand(
        f"{RESULTS}/features/{wildcards.clipset}/shard_{{shard}}.parquet", shard=SHARDS
    )


def get_features_table(wildcards):
    return f"{RESULTS}/features/{model_clipset(wildcards.model)}.parquet"


def get_model_clip_manifests(wildcards):
    clipset = model_clipset(wildcards.model)
    return expand(
        f"{RESULTS}/clips/{clipset}/shard_{{shard}}/manifest.parquet", shard=SHARDS
    )


def get_model_data(wildcards):
    """What a model trains on (and its search searches on): its clipset's feature table or its clip shards."""
    if reads(wildcards.model) == "features":
        return {"features": get_features_table(wildcards)}
    return {"manifests": get_model_clip_manifests(wildcards)}


def get_train_inputs(wildcards):
    """The train rule's inputs: the model's data, and its search's best_params.json when it has a search."""
    return {**get_model_data(wildcards), **get_best_params_input(wildcards)}


def get_model_params(wildcards):
    return model_params(wildcards.model)


def get_model_clipset(wildcards):
    return model_clipset(wildcards.model)


def get_model_clip_recipe(wildcards):
    return config["clipsets"][model_clipset(wildcards.model)]


def get_train_checkpoint(wildcards):
    """Where a model trained by epochs keeps its resumable state (not an output: a killed job resumes from it)."""
    return f"{RESULTS}/checkpoints/{wildcards.model}/fold_{wildcards.fold}/last.pt"


def get_hpo_settings(wildcards):
    """The model's search settings less `storage` (where the study lives is not what it finds)."""
    return {k: v for k, v in config["hpo"][wildcards.model].items() if k != "storage"}


def get_hpo_storage(wildcards):
    return f"{RESULTS}/hpo/{wildcards.model}/study.db"


def get_hpo_checkpoints(wildcards):
    return f"{RESULTS}/checkpoints/hpo/{wildcards.model}"


def get_plot_subcategory(wildcards):
    """The report's subcategory of a comparison plot (fvc.evaluate.plot_names)."""
    from fvc.evaluate.plot_names import plot_subcategory

    return plot_subcategory(wildcards.name)


def get_plot_labels(wildcards):
    from fvc.evaluate.plot_names import plot_labels

    return plot_labels(wildcards.name)


def get_hpo_plot_subcategory(wildcards):
    return wildcards.model


def get_hpo_plot_labels(wildcards):
    return {"model": wildcards.model, "plot": wildcards.name}


def get_best_params_input(wildcards):
    """The search's best_params.json for a model with an `hpo` entry; nothing otherwise."""
    if wildcards.model in HPO_MODELS:
        return {"best_params": f"{RESULTS}/hpo/{wildcards.model}/best_params.json"}
    return {}


def get_hpo_runtime(wildcards, attempt):
    """Minutes for a search: one training job's runtime per trial and round, times the attempt, capped at two
    days.

    A search cut by the limit resumes where it stopped when the job is resubmitted (the study is on disk).
    """
    from fvc.hpo.space import HpoConfig
    from fvc.learners import learner_class

    spec = get_spec(wildcards.model)
    cfg = HpoConfig.from_config(HPO[wildcards.model])
    rounds = cfg.rounds(learner_class(wildcards.model).search_rounds(cfg.cv_folds))
    trials = max(1, cfg.n_trials()) * rounds
    return min(2880, spec.resources.runtime * trials * attempt)


# Resources a retry gets more of: a job that hit its time or memory limit would hit it again with the same
# request, so attempt n (Snakemake's `--retries`, profiles/slurm) asks for n times the registry's value.
SCALED_WITH_ATTEMPT = ("mem_mb", "runtime")


def get_model_resource(attribute):
    """Resource callable for the train and hpo rules: each model's value from its registry spec.

    Memory and time grow with the attempt (x1, x2, x3 ...); threads and GPUs do not.
    """

    def value(wildcards):
        return getattr(get_spec(wildcards.model).resources, attribute)

    def scaled(wildcards, attempt):
        return value(wildcards) * attempt

    return scaled if attribute in SCALED_WITH_ATTEMPT else value


# Decoding, feature and test-scoring jobs: memory and time per attempt (a retry after an out-of-memory kill
# or a time-out asks for more, docs/cluster.md).
def get_stage_mem_mb(wildcards, attempt):
    return 2000 * attempt


def get_stage_runtime(wildcards, attempt):
    return 60 * attempt


def get_test_score_mem_mb(wildcards, attempt):
    return 4000 * attempt


def get_all_metrics(wildcards):
    return expand(
        f"{RESULTS}/models/{{model}}/fold_{{fold}}/metrics.json",
        model=MODELS,
        fold=FOLDS,
    )


def get_all_video_predictions(wildcards):
    """Every fold's video-level scores, aggregated by its learner (fvc.learners.aggregate)."""
    return expand(
        f"{RESULTS}/models/{{model}}/fold_{{fold}}/video_predictions.parquet",
        model=MODELS,
        fold=FOLDS,
    )


def get_all_training_complete(wildcards):
    """The markers that every file of a fold (its model file included, whatever its format) is written."""
    return expand(
        f"{RESULTS}/models/{{model}}/fold_{{fold}}/training_complete",
        model=MODELS,
        fold=FOLDS,
    )


# Cluster routing (`snakemake --profile profiles/slurm`, docs/cluster.md). Every rule runs in the profile's
# default partition (FVC_CPU_PARTITION, else "cpu"); the training rules pick theirs per model here: the GPU
# partition when the model's registry spec needs a GPU, else the CPU partition. A name comes from the
# environment variable if set, else from config `cluster`, else the built-in default.
import os

CLUSTER_PARTITIONS = {
    "cpu_partition": ("FVC_CPU_PARTITION", "cpu"),
    "gpu_partition": ("FVC_GPU_PARTITION", "gpu"),
}


def cluster_partition(key):
    env_var, default = CLUSTER_PARTITIONS[key]
    configured = (config.get("cluster") or {}).get(key)
    return os.environ.get(env_var) or configured or default


def get_slurm_partition(wildcards):
    """Resource callable for the train and hpo rules: the SLURM partition the model's job is sent to."""
    needs_gpu = get_spec(wildcards.model).needs_gpu
    return cluster_partition("gpu_partition" if needs_gpu else "cpu_partition")
