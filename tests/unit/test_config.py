"""Schema validation: every kind of mistake is rejected with the offending key in the message."""

from __future__ import annotations

import copy

import pytest
import yaml

from fvc.config import ConfigError, coerce_config, load_schema, schema_files
from fvc.settings import validate_config
from fvc.data.recipe import ClipRecipe
from fvc.models import get_spec, list_models
from fvc.models.registry import GEOMETRY_PARAMS, TRAIN_PARAMS
from fvc.models.registry import param_names as model_param_names
from tests.conftest import REPO


@pytest.fixture
def config() -> dict:
    with open(REPO / "config" / "config.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_default_config_is_valid(config):
    validate_config(config)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(typo_key=1), "'typo_key'"),
        (lambda c: c["split"].update(fold=3), "'split.fold'"),
        (lambda c: c["split"].update(folds=1), "'split.folds'"),
        (lambda c: c["split"].update(folds="three"), "'split.folds'"),
        (lambda c: c.update(shards=0), "'shards'"),
        (lambda c: c["input"].update(kind="s3"), "'input.kind'"),
        (lambda c: c["clipsets"]["forensic"].update(scaling="stretch"), "'clipsets.forensic.scaling'"),
        (lambda c: c["clipsets"]["forensic"].pop("size"), "'clipsets.forensic.size'"),
        (lambda c: c.pop("models"), "'models'"),
        (lambda c: c.update(models=["no_such_model"]), "unknown model 'no_such_model'"),
        (lambda c: c["model_params"].update(logistic_regresion={}), "'model_params.logistic_regresion'"),
        (lambda c: c["model_params"]["logistic_regression"].update(clipset="missing"), "model_params.logistic_regression.clipset"),
    ],
)
def test_invalid_config_names_the_key(config, mutate, expected):
    bad = copy.deepcopy(config)
    mutate(bad)
    with pytest.raises(ConfigError) as excinfo:
        validate_config(bad)
    assert expected in str(excinfo.value)


def test_clip_recipe_from_config(config):
    recipe = ClipRecipe.from_config(config, "forensic")
    assert (recipe.frames, recipe.size, recipe.scaling) == (8, 64, "crop")
    with pytest.raises(ConfigError, match="no clipset named 'nope'"):
        ClipRecipe.from_config(config, "nope")


# --- model_params: every key must be a parameter the model accepts -------------------------------------------


@pytest.mark.parametrize(
    ("model", "key", "expected"),
    [
        ("naive_cnn", "epochz", "config key 'model_params.naive_cnn.epochz': unknown parameter (allowed: "),
        ("logistic_regression", "CC", "config key 'model_params.logistic_regression.CC': unknown parameter (allowed: C, clipset, max_iter)"),
        # A training setting means nothing to a scikit-learn model; it would be dropped without a word.
        ("logistic_regression", "epochs", "'model_params.logistic_regression.epochs': unknown parameter"),
        # The job passes the seed and its threads; a config value would clash with them.
        ("svm", "seed", "'model_params.svm.seed': unknown parameter"),
        ("random_forest", "n_jobs", "'model_params.random_forest.n_jobs': unknown parameter"),
        # A model that is not in `models` (switched off for now) is checked all the same.
        ("x3d", "depth_factr", "'model_params.x3d.depth_factr': unknown parameter"),
    ],
)
def test_unknown_model_parameter_names_the_key(config, model, key, expected):
    bad = copy.deepcopy(config)
    bad["model_params"].setdefault(model, {})[key] = 1
    if model == "x3d":
        bad["models"].remove("x3d")
    with pytest.raises(ConfigError) as excinfo:
        validate_config(bad)
    assert expected in str(excinfo.value)


def test_unknown_parameter_suggests_the_closest_name(config):
    config["model_params"]["naive_cnn"] = {"epochz": 3}
    with pytest.raises(ConfigError, match=r"epochs.*lr.*; did you mean 'epochs'\?"):
        validate_config(config)


@pytest.mark.parametrize("model", list_models())
def test_every_registered_default_parameter_is_accepted(config, model):
    """The registry's own defaults, every training setting of a torch model and the builder's arguments pass."""
    spec = get_spec(model)
    allowed = model_param_names(model)
    assert set(spec.default_params) <= allowed
    assert "clipset" in allowed and not allowed & {"seed", "n_jobs"}
    assert (TRAIN_PARAMS <= allowed) == (spec.kind == "torch")
    config["model_params"] = {model: {k: v for k, v in spec.default_params.items() if k != "clipset"}}
    validate_config(config)


@pytest.mark.parametrize("model", list_models())
def test_searchable_names_are_the_model_params_less_data_and_geometry(model):
    """``hpo.<model>.space`` accepts exactly the model_params keys that a trial may vary."""
    from fvc.hpo.space import check_space_names

    searchable = model_param_names(model) - {"clipset"} - GEOMETRY_PARAMS
    check_space_names(model, {name: [1] for name in searchable})
    for name in model_param_names(model) - searchable:
        with pytest.raises(ValueError):
            check_space_names(model, {name: [1]})


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(REPO).as_posix() for p in [*REPO.glob("tests/configs/*/config.yaml"), REPO / "tests/slurm/config.yaml"])
)
def test_every_shipped_config_is_valid_over_the_defaults(config, path):
    from snakemake.utils import update_config

    update_config(config, yaml.safe_load((REPO / path).read_text(encoding="utf-8")))
    validate_config(config)


def test_model_params_in_the_docs_are_accepted():
    """Every ``model_params.<model>.<key>`` and ``<key>:`` named in README.md and docs/ for a model is accepted."""
    import re

    text = "\n".join(p.read_text(encoding="utf-8") for p in [REPO / "README.md", *REPO.glob("docs/*.md")])
    named = set(re.findall(r"model_params\.([a-z0-9_]+)\.([A-Za-z_]+)", text))
    assert named, "the README names model_params keys (model_params.vit_gru.vit)"
    for model, key in named:
        assert key in model_param_names(model), f"model_params.{model}.{key}"


# --- input.path and split.folds, known at parse time -------------------------------------------------------


def _folder(root, real: int, fake: int):
    for label, n in (("real", real), ("fake", fake)):
        (root / label / "sub").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / label / ("sub" if i % 2 else "") / f"{label}_{i}.mp4").write_bytes(b"x")
    (root / "fake" / ".hidden.mp4").write_bytes(b"x")  # skipped by the index, and by the count


def test_folds_above_the_synthetic_scene_count_are_refused(config):
    config["synth"]["scenes"], config["synth"]["stills"], config["split"]["folds"] = 3, 1, 4
    with pytest.raises(ConfigError, match=r"config key 'split.folds': 4 folds need at least 4 groups of each label.*synth.scenes: 3"):
        validate_config(config)
    config["split"]["folds"] = 3
    validate_config(config)


def test_synth_settings_its_own_check_refuses_are_refused_at_parse_time(config):
    """The synth domain's dataclass checks what the schema cannot (more stills than scenes); before, the synth
    job found out after the DAG had started."""
    config["synth"]["scenes"], config["synth"]["stills"] = 3, 4
    with pytest.raises(ConfigError, match=r"config key 'synth': stills must be in \[0, 3\], got 4"):
        validate_config(config)


def test_folds_above_the_files_of_a_folder_are_refused(config, tmp_path):
    _folder(tmp_path / "data", real=5, fake=2)
    config["input"] = {"kind": "folder", "path": str(tmp_path / "data")}
    config["split"]["folds"] = 3
    with pytest.raises(ConfigError, match=r"'split.folds': 3 folds need .* has 2 fake file\(s\); lower split.folds or add fake videos"):
        validate_config(config)
    config["split"]["folds"] = 2
    validate_config(config)


def test_folder_without_one_label_is_refused(config, tmp_path):
    (tmp_path / "data" / "real").mkdir(parents=True)
    (tmp_path / "data" / "real" / "a.mp4").write_bytes(b"x")
    config["input"] = {"kind": "folder", "path": str(tmp_path / "data")}
    with pytest.raises(ConfigError, match="has 0 fake file"):
        validate_config(config)


def test_folds_above_the_groups_of_a_sheet_are_refused(config, tmp_path):
    sheet = tmp_path / "samples.csv"
    # real: groups g1, g1, g2 -> 2 groups; fake: 3 rows without a group -> 3 groups (each its own).
    sheet.write_text("path, label, group\na.mp4,real,g1\nb.mp4,real,g1\nc.mp4,real,g2\nd.mp4,fake,\ne.mp4,fake,\nf.mp4,fake,\ng.mp4,unknown,g9\n")
    config["input"] = {"kind": "sheet", "path": str(sheet), "root": None}
    config["split"]["folds"] = 3
    with pytest.raises(ConfigError, match=r"'split.folds': 3 folds .* sample sheet .* has 2 real group\(s\)"):
        validate_config(config)
    config["split"]["folds"] = 2
    validate_config(config)
    sheet.write_text("path,label\na.mp4,real\nb.mp4,real\nc.mp4,fake\nd.mp4,fake\n")  # no group column
    validate_config(config)
    sheet.write_text("path\na.mp4\n")  # no label column: the index reports it with its own message
    validate_config(config)


@pytest.mark.parametrize(("kind", "what"), [("folder", "data folder"), ("sheet", "sample sheet")])
def test_missing_input_path_names_the_key(config, tmp_path, kind, what):
    config["input"] = {"kind": kind, "path": str(tmp_path / "nope")}
    with pytest.raises(ConfigError, match=f"config key 'input.path': {what} '.*nope' does not exist"):
        validate_config(config)


def test_missing_synth_path_is_fine(config, tmp_path):
    config["input"] = {"kind": "synth", "path": str(tmp_path / "not-yet")}  # the synth rule creates it
    validate_config(config)


# --- strings from `snakemake --config` become the schema's types ----------------------------------------------


def test_command_line_strings_are_coerced_to_the_schema_types(config):
    config["tracking"] = {"enabled": "false", "uri": "null", "experiment": "123"}  # uri: [string, null]
    config["split"] = {"folds": "4"}
    config["seed"] = "7"
    config["results"] = 2024  # `--config results=2024` arrives as an integer; the schema asks for a string
    config["input"]["root"] = "~"
    config["augment"]["p_hflip"] = "0.25"
    config["augment"]["jpeg_quality"] = ["40", "90"]
    config["augment"]["crop_scale"] = ["0.8", "1"]
    config["clipsets"]["forensic"]["frames"] = "+8"
    config["index"]["max_file_mb"] = "1e3"
    config["hpo"] = {"svm": {"method": "grid", "space": {"C": ["0.5", "2"]}, "pruning": "No", "trials": "NULL"},
                     "logistic_regression": {"method": "optuna", "trials": "3", "space": {"C": {"low": "1e-3", "high": "10", "log": "YES"}}}}  # fmt: skip
    config["models"] = ["svm", "logistic_regression"]
    same = validate_config(config)
    assert same is config  # coerced in place: Snakemake's own config object holds the typed values
    assert config["tracking"] == {"enabled": False, "uri": None, "experiment": "123"}  # a string stays a string
    assert config["split"]["folds"] == 4 and config["seed"] == 7 and config["results"] == "2024"
    assert config["input"]["root"] is None and config["input"]["path"] == "data/synth"
    assert config["augment"]["p_hflip"] == 0.25 and config["augment"]["jpeg_quality"] == [40, 90]
    assert config["augment"]["crop_scale"] == [0.8, 1] and config["clipsets"]["forensic"]["frames"] == 8
    assert config["index"]["max_file_mb"] == 1000.0
    svm, logreg = config["hpo"]["svm"], config["hpo"]["logistic_regression"]
    assert svm["pruning"] is False and svm["trials"] is None
    assert svm["space"]["C"] == [0.5, 2]  # untyped in the schema: the parameter's default (C: 1.0) types the choices
    assert logreg["trials"] == 3 and logreg["space"]["C"] == {"low": 0.001, "high": 10, "log": True}


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("True", True), ("YES", True), ("1", True), ("false", False), ("No", False), ("0", False), (" off ", " off ")],
)
def test_boolean_spellings(text, value):
    assert coerce_config({"tracking": {"enabled": text}}) == {"tracking": {"enabled": value}}


def test_strings_that_do_not_convert_are_left_for_the_schema(config):
    config["tracking"]["enabled"] = "maybe"
    with pytest.raises(ConfigError, match="'tracking.enabled': 'maybe' is not of type 'boolean'"):
        validate_config(config)
    config["tracking"]["enabled"], config["split"]["folds"] = True, "4.5"
    with pytest.raises(ConfigError, match="'split.folds'"):
        validate_config(config)


def test_coercion_follows_refs_and_leaves_untyped_values():
    schema = {"$defs": {"p": {"type": "number"}}, "type": "object",
              "properties": {"a": {"$ref": "#/$defs/p"}, "b": {"enum": ["1", "2"]}, "c": {"type": "object"}}}  # fmt: skip
    assert coerce_config({"a": "0.5", "b": "1", "c": {"x": "1"}, "d": "1"}, schema) == {"a": 0.5, "b": "1", "c": {"x": "1"}, "d": "1"}


# --- the schemas are package data ---------------------------------------------------------------------------


def test_schemas_are_found_through_importlib_resources():
    from importlib import resources

    folder = resources.files("fvc") / "schemas"
    assert folder.joinpath("config.schema.yaml").is_file() and folder.joinpath("samples.schema.yaml").is_file()
    assert schema_files().joinpath("config.schema.yaml").read_text(encoding="utf-8") == folder.joinpath("config.schema.yaml").read_text(encoding="utf-8")
    assert load_schema("config")["properties"]["models"]["type"] == "array"
    assert load_schema("samples")["required"] == ["path", "label"]


def test_a_built_wheel_ships_the_schemas_and_validates_without_the_source_tree(tmp_path, config):
    """Build the wheel from a copy of the package (setuptools' PEP 517 hook, no network), unpack it as an
    installer would, and validate a config from there with the source tree out of reach."""
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "fvc", src / "fvc", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    build = "from setuptools import build_meta; import sys; print(build_meta.build_wheel(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", build, str(tmp_path / "dist")], cwd=src, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheel = tmp_path / "dist" / proc.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {"fvc/schemas/config.schema.yaml", "fvc/schemas/samples.schema.yaml"} <= names
        archive.extractall(tmp_path / "site")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    check = (
        "import sys, yaml; sys.path.insert(0, sys.argv[1]); import fvc.config as c, fvc.settings as s; "
        "assert c.__file__.startswith(sys.argv[1]) and s.__file__.startswith(sys.argv[1]), c.__file__; "
        "cfg = yaml.safe_load(open(sys.argv[2])); s.validate_config(cfg, check_models=False); "
        "cfg['split']['fold'] = 3\n"
        "try:\n    s.validate_config(cfg, check_models=False)\nexcept c.ConfigError as e:\n    print(e)"
    )
    proc = subprocess.run([sys.executable, "-c", check, str(tmp_path / "site"), str(tmp_path / "config.yaml")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "unknown key 'split.fold'" in proc.stdout


def test_model_params_strings_take_the_type_of_the_default(config):
    """`--config model_params='{naive_cnn: {epochs: 3}}'` delivers '3'; the parameter's default gives the type."""
    config["model_params"] = {
        "naive_cnn": {"epochs": "3", "lr": "1e-3", "dropout": "0.5", "pretrained": "false", "amp": "no", "min_epochs": "2"},
        "transfer": {"pretrained": "/weights/resnet.pth", "backbone": "resnet50", "batch_size": "many"},
        "svm": {"gamma": "scale", "C": "2"},
    }
    validate_config(config)
    # min_epochs defaults to None: its annotation (int | None) gives the type.
    assert config["model_params"]["naive_cnn"] == {"epochs": 3, "lr": 0.001, "dropout": 0.5, "pretrained": False, "amp": False, "min_epochs": 2}
    assert config["model_params"]["transfer"] == {"pretrained": "/weights/resnet.pth", "backbone": "resnet50", "batch_size": "many"}
    assert config["model_params"]["svm"] == {"gamma": "scale", "C": 2}


def test_test_sets_are_checked_when_the_config_is_read(tmp_path):
    """A test set's path, its synthetic settings and a folder's class subfolders, named by the test set's key."""
    import yaml

    from fvc.config import ConfigError
    from fvc.settings import validate_config
    from tests.conftest import REPO

    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))

    def check(test_sets):
        validate_config({**base, "test_sets": test_sets}, check_models=False)

    with pytest.raises(ConfigError, match=r"'test_sets\.mine\.path': sample sheet '.*nope\.csv' does not exist"):
        check({"mine": {"kind": "sheet", "path": str(tmp_path / "nope.csv")}})
    (tmp_path / "flat").mkdir()
    with pytest.raises(ConfigError, match=r"'test_sets\.flat\.path': data folder .* has neither a real/ nor a fake/ subfolder"):
        check({"flat": {"kind": "folder", "path": str(tmp_path / "flat")}})
    with pytest.raises(ConfigError, match=r"'test_sets\.other\.synth': .*sizes"):
        check({"other": {"kind": "synth", "path": str(tmp_path / "o"), "synth": {"sizes": [[97, 64]]}}})
    with pytest.raises(ConfigError, match="is the training corpus's folder"):
        check({"same": {"kind": "synth", "path": base["input"]["path"]}})
    check({"shipped": None, "other": {"kind": "synth", "path": str(tmp_path / "o"), "synth": {"families": ["regrain"]}}})
