"""The manipulation registry: fvc's families by name with their metadata, a user's own family, the corpus's bytes."""

from __future__ import annotations

import hashlib
import sys
from importlib.metadata import EntryPoint

import numpy as np
import pandas as pd
import pytest

from fvc.data.synth import SynthConfig, generate_corpus
from fvc.manipulations import (
    apply_manipulation,
    get_manipulation,
    list_manipulations,
    register_manipulation,
    registry,
    unregister_manipulation,
)

BUILTIN = ["splice", "upsample", "double_compression", "flicker", "interpolation", "regrain"]


def frames(seed: int = 0, shape=(6, 24, 32, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture
def posterise():
    """A user's family, registered from outside fvc and removed again afterwards."""

    @register_manipulation("test_posterise", temporal=False, yields_mask=False, params={"levels": (2, 6)})
    def _posterise(clip: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> np.ndarray:
        """Fewer grey levels per channel."""
        step = 256 // int(rng.integers(2, 7))
        return (clip // step * step).astype(np.uint8)

    yield "test_posterise"
    unregister_manipulation("test_posterise")


def test_fvcs_families_are_registered_with_their_metadata():
    assert list_manipulations()[: len(BUILTIN)] == BUILTIN
    assert {n for n in BUILTIN if get_manipulation(n).temporal} == {"flicker", "interpolation"}
    assert {n for n in BUILTIN if get_manipulation(n).yields_mask} == {"splice", "upsample", "flicker", "regrain"}
    assert [n for n in BUILTIN if get_manipulation(n).uses_donor] == ["splice"]
    for name in BUILTIN:
        spec = get_manipulation(name)
        assert spec.params and all(low <= high for low, high in spec.params.values()), name
        assert spec.description and "\n" not in spec.description, name


def test_unknown_and_duplicate_names_are_errors_that_name_the_families():
    with pytest.raises(ValueError, match=r"unknown manipulation family 'blur'; known families: splice, upsample"):
        get_manipulation("blur")
    with pytest.raises(ValueError, match="'splice' is already registered"):
        register_manipulation("splice", temporal=False, yields_mask=False)(lambda clip, rng, donor: clip)


@pytest.mark.parametrize("name", BUILTIN)
def test_each_family_keeps_shape_and_dtype_changes_pixels_and_follows_its_seed(name):
    clip = frames()
    donor = frames(1, (3, 40, 20, 3)) if get_manipulation(name).uses_donor else None
    fake = apply_manipulation(clip, name, np.random.default_rng(5), donor)
    assert fake.shape == clip.shape and fake.dtype == np.uint8
    assert not np.array_equal(fake, clip)
    np.testing.assert_array_equal(fake, apply_manipulation(clip, name, np.random.default_rng(5), donor))


def test_a_family_that_breaks_the_contract_is_named():
    register_manipulation("test_cropper", temporal=False, yields_mask=False)(lambda clip, rng, donor: clip[:, 1:])
    try:
        with pytest.raises(ValueError, match=r"family 'test_cropper' returned \(6, 23, 32, 3\) uint8"):
            apply_manipulation(frames(), "test_cropper", np.random.default_rng(0))
    finally:
        unregister_manipulation("test_cropper")


def test_a_users_family_makes_a_corpus_and_is_valid_config(posterise, tmp_path):
    cfg = SynthConfig(scenes=2, frames=3, stills=0, sizes=[[32, 24]], families=["splice", posterise], seed=0)
    table = generate_corpus(tmp_path, cfg, progress=False)
    assert set(table.loc[table["label"] == "fake", "family"]) == {"splice", posterise}
    assert (tmp_path / "fake" / f"scene_001_{posterise}.mp4").is_file()
    with pytest.raises(ValueError, match="unknown entries \\['nonesuch'\\]"):
        SynthConfig(families=["nonesuch"])


def test_an_installed_plugin_registers_through_its_entry_point(monkeypatch):
    """A package's ``[project.entry-points."fvc.manipulations"]`` module is imported on first lookup."""
    point = EntryPoint(name="plugged", value="tests.unit.plugin_manipulation", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "_REGISTRY", registry._Registry())
    monkeypatch.setattr(registry, "entry_points", lambda group: [point] if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.delitem(sys.modules, "fvc.manipulations.families", raising=False)
    monkeypatch.delitem(sys.modules, "tests.unit.plugin_manipulation", raising=False)
    assert list_manipulations() == [*BUILTIN, "plugged_invert"]
    assert get_manipulation("plugged_invert").description == "The photographic negative."


# A small corpus with every one of fvc's families, hashed by the code before the families moved out of
# fvc/data/synth.py into the registry: moving them, or anything else, must not change a byte.
SMALL = SynthConfig(scenes=6, frames=4, stills=2, seed=3, sizes=[[32, 24], [24, 32]], families=BUILTIN)
PINNED = {
    "samples.csv": "bcc2236c357ecb886cc4c802748851bdbb04d98239093202a66214baa29570a1",
    "real/scene_000.mp4": "e5fa80d298537c55737b7352b0c956639c375097388ec7e8dafc6afa54aed26d",
    "fake/scene_000_splice.mp4": "c201e73656a3c8816c09aefbc3411b4079e24f7941a7ac00d17b34d907877b84",
    "fake/scene_003_flicker.mp4": "c06a60ff5e857123bde146b1f142a94926f6ab861e5f2cec3724001bc30e1090",
    "fake/scene_005_regrain.mp4": "265c93ab37a1cca3728544c90262096e42338537f909752a22ff05fa2832cdd9",
    "fake/still_003_flicker.png": "2d3ebd74dcb1000724901ee39a1c1395a62e3ce9735b548e192557ebe1799ec1",
}


def test_the_corpus_is_byte_identical_to_the_one_written_before_the_registry(tmp_path):
    table = generate_corpus(tmp_path, SMALL, progress=False)
    assert len(table) == 16 and list(pd.read_csv(tmp_path / "samples.csv").columns) == ["path", "label", "group", "family"]
    got = {path: hashlib.sha256((tmp_path / path).read_bytes()).hexdigest() for path in PINNED}
    assert got == PINNED
