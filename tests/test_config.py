"""Config validation: JSON Schema at load plus cross-checks, before any job runs."""

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from synthmir.config import canonical, check_config, expand_models, variant_id
from synthmir.errors import SynthmirError
from tests.snakemake_runs import ROOT, run_snakemake


@pytest.fixture(scope="module")
def default_config() -> dict:
    """The default config after schema defaults are filled in, as the Snakefile sees it."""
    from snakemake.utils import validate

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    validate(config, str(ROOT / "config/config.schema.yaml"))
    return config


def test_default_config_passes(default_config):
    models = check_config(copy.deepcopy(default_config))
    assert set(models) >= set(default_config["models"]) - {
        m for m, e in default_config["models"].items() if "sweep" in e}


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda c: c["models"][next(iter(c["models"]))].update(dataset="nope"), ".dataset"),
        (lambda c: c["models"][next(iter(c["models"]))].update(features="nope"), ".features"),
        (lambda c: c["datasets"]["notes"].update(soundfonts=["nope"]), "notes.soundfonts"),
        (lambda c: c["datasets"]["notes"]["pitch"].update(min=90, max=40), "notes.pitch"),
        (lambda c: c["datasets"]["notes"].update(shards=c["datasets"]["notes"]["clips"] + 1),
         "notes.shards"),
        (lambda c: c["datasets"]["notes"]["split"].update(valid=0.5, test=0.5), "notes.split"),
        (lambda c: c["features"]["pitchgram"].update(bin_min=10, bin_max=5), "bin_max"),
        (lambda c: c["features"]["pitchgram"].update(hop=8192), "pitchgram.hop"),
    ],
)
def test_cross_checks_name_the_key(default_config, edit, key):
    config = copy.deepcopy(default_config)
    edit(config)
    with pytest.raises(SynthmirError, match=key.replace(".", r"\.")):
        check_config(config)


def test_sweep_expands_into_named_variants():
    models = {"conv": {"dataset": "d", "features": "f", "training": {"seed": 1},
                       "sweep": {"training.learning_rate": [0.001, 0.01], "training.seed": [1]}}}
    expanded = expand_models(models)
    assert list(expanded) == ["conv_learning_rate-0.001_seed-1", "conv_learning_rate-0.01_seed-1"]
    variant = expanded["conv_learning_rate-0.01_seed-1"]
    assert variant["training"] == {"seed": 1, "learning_rate": 0.01}
    assert "sweep" not in variant and models["conv"]["training"] == {"seed": 1}


def test_variant_ids_are_stable_safe_and_bounded():
    long = {"architecture.filters": [16, 32, 64, 128, 256], "training.learning_rate": 0.0001,
            "architecture.dense": [512, 256, 128]}
    first, second = variant_id("model", long), variant_id("model", dict(long))
    assert first == second and len(first) <= 60
    assert all(ch.isalnum() or ch in "_.+-" for ch in first)
    assert variant_id("model", {**long, "training.learning_rate": 0.001}) != first


def _dry_run(tmp_path: Path, config: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return run_snakemake(tmp_path, "-n", config=path, snakefile=ROOT / "Snakefile", timeout=120)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda c: c["datasets"]["notes"].update(clips=-5), "clips"),
        (lambda c: c["datasets"]["notes"].update(colour="red"), "colour"),
        (lambda c: c["features"]["pitchgram"].update(hop="fast"), "hop"),
        (lambda c: c["models"]["instrument"].update(dataset="chords9"), "dataset"),
        (lambda c: c["models"]["instrument"]["architecture"].update(wings=2), "wings"),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, edit, needle):
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    edit(config)
    result = _dry_run(tmp_path, config)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert needle in output
    assert "Traceback (most recent call last)" not in output
    assert "Job stats" not in output and not (tmp_path / "data").exists()


def test_missing_sound_font_names_the_package(default_config):
    config = copy.deepcopy(default_config)
    config["soundfonts"]["fluidr3"]["path"] = "/nonexistent/FluidR3_GM.sf2"
    with pytest.raises(SynthmirError, match="fluid-soundfont-gm"):
        check_config(config)


def test_canonical_sorts_mappings_recursively_and_keeps_list_order():
    value = {"b": [{"z": 1, "a": 2}, 3], "a": {"y": 1, "x": None}}
    result = canonical(value)
    assert list(result) == ["a", "b"] and list(result["a"]) == ["x", "y"]
    assert list(result["b"][0]) == ["a", "z"] and result["b"][1] == 3
    assert result == value
