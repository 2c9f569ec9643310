"""Configuration checks that JSON Schema cannot express, and sweep expansion.

Imported by the Snakefile at parse time, so it stays light: no numpy, no TensorFlow.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from synthmir.errors import SynthmirError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "config.schema.yaml"
# Ids longer than this get a short hash instead of their tail, so paths stay manageable.
MAX_ID_LENGTH = 60


def _fail(key: str, problem: str, fix: str) -> SynthmirError:
    return SynthmirError(f"config error at '{key}': {problem}. {fix}")


def _format_value(value: Any) -> str:
    if isinstance(value, list | dict):
        value = json.dumps(value, separators=(",", ":"))
    text = str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-")


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted, recursively.

    Snakemake compares a job's params with the recorded ones as text, so two configs that
    differ only in key order would otherwise rerun everything.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def variant_id(name: str, assignment: dict[str, Any]) -> str:
    """Readable, stable, filesystem-safe id of one sweep variant.

    ``variant_id("conv", {"training.learning_rate": 0.001})`` -> ``"conv_learning_rate-0.001"``.
    The same values always give the same id, so reverting an edit finds earlier results.
    """
    parts = [f"{path.split('.')[-1]}-{_format_value(v)}" for path, v in assignment.items()]
    model_id = "_".join([name, *parts])
    if len(model_id) > MAX_ID_LENGTH:
        digest = hashlib.sha1(json.dumps(assignment, sort_keys=True).encode()).hexdigest()[:8]
        model_id = f"{model_id[: MAX_ID_LENGTH - 9]}_{digest}"
    return model_id


def _set_path(entry: dict, path: str, value: Any) -> None:
    keys = path.split(".")
    node = entry
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise _fail(path, f"'{key}' is not a section", "Sweep a key inside a section.")
    node[keys[-1]] = value


def expand_models(models: dict[str, dict]) -> dict[str, dict]:
    """Expand every model with a ``sweep:`` grid into its named variants.

    Returns a mapping model id -> model entry (without ``sweep``), in config order.
    """
    expanded: dict[str, dict] = {}
    for name, entry in models.items():
        grid = entry.get("sweep") or {}
        base = {k: v for k, v in entry.items() if k != "sweep"}
        if not grid:
            expanded[name] = base
            continue
        paths = list(grid)
        for values in itertools.product(*(grid[p] for p in paths)):
            variant = copy.deepcopy(base)
            assignment = dict(zip(paths, values, strict=True))
            for path, value in assignment.items():
                _set_path(variant, path, value)
            variant["swept"] = assignment
            expanded[variant_id(name, assignment)] = variant
    return expanded


def split_scheme(override: dict) -> str:
    """Stable, readable name of a model's split override, e.g. ``holdout_soundfonts-timgm6mb``."""
    return variant_id("split", override).removeprefix("split_")


def model_split(model: dict, datasets: dict) -> dict:
    """The split settings a model trains with: its dataset's, updated by its own override."""
    return {**datasets[model["dataset"]]["split"], **model.get("split", {})}


def _check_range(key: str, section: dict) -> None:
    if section["min"] > section["max"]:
        raise _fail(key, f"min {section['min']} is above max {section['max']}", "Swap them.")


def check_config(config: dict) -> dict[str, dict]:
    """Check cross-references and value relations; return the expanded models.

    Raises
    ------
    SynthmirError
        Naming the key, the problem and the fix.
    """
    soundfonts = config.get("soundfonts", {})
    datasets, features = config["datasets"], config["features"]
    for name, ds in datasets.items():
        key = f"datasets.{name}"
        for sf in ds["soundfonts"]:
            if sf not in soundfonts:
                raise _fail(f"{key}.soundfonts", f"unknown sound font '{sf}'",
                            f"Use one of {sorted(soundfonts)} or add it under 'soundfonts'.")
            path = soundfonts[sf]["path"]
            if not Path(path).is_file():
                package = soundfonts[sf].get("package")
                fix = (f"Install it: apt-get install --no-install-recommends {package}"
                       if package else "Point the path at an existing .sf2/.sf3 file")
                raise _fail(f"soundfonts.{sf}.path", f"no sound font file at {path}",
                            f"{fix}, or set soundfonts.{sf}.path.")
        if ds["shards"] > ds["clips"]:
            raise _fail(f"{key}.shards", f"{ds['shards']} shards for {ds['clips']} clips",
                        "Use at most one shard per clip.")
        if ds["note_seconds"] > ds["clip_seconds"]:
            raise _fail(f"{key}.note_seconds", "the note is longer than the clip",
                        "Make note_seconds at most clip_seconds.")
        _check_range(f"{key}.pitch", ds["pitch"])
        _check_range(f"{key}.velocity", ds["velocity"])
        if ds.get("chord_source") == "mix":
            source = ds.get("mix", {}).get("source")
            if datasets.get(source, {}).get("kind", "notes") != "notes" or source not in datasets:
                raise _fail(f"{key}.mix.source", f"'{source}' is not a notes dataset here",
                            "Name the notes dataset whose clips are mixed into chords.")
        split = ds["split"]
        if split["valid"] + split["test"] >= 1:
            raise _fail(f"{key}.split", "valid + test leave no clip for training",
                        "Make valid + test below 1.")
        for sf in split["holdout_soundfonts"]:
            if sf not in ds["soundfonts"]:
                raise _fail(f"{key}.split.holdout_soundfonts", f"'{sf}' is not rendered here",
                            f"Hold out one of {ds['soundfonts']}.")
    for name, fs in features.items():
        if fs["bin_max"] <= fs["bin_min"]:
            raise _fail(f"features.{name}.bin_max", "bin_max must be above bin_min",
                        "The bins cover [bin_min, bin_max) semitones from A4.")
        if fs["hop"] > fs["block_size"]:
            raise _fail(f"features.{name}.hop", "hop is longer than block_size",
                        "Frames would skip samples; use hop <= block_size.")
    models = expand_models(config["models"])
    for model in models.values():
        if "split" in model:
            model["split_scheme"] = split_scheme(model["split"])
    model_schema = _schema()["$defs"]["model"]
    for model_id, model in models.items():
        key = f"models.{model_id}"
        for ref, section in (("dataset", datasets), ("features", features)):
            if model[ref] not in section:
                raise _fail(f"{key}.{ref}", f"no {ref} entry named '{model[ref]}'",
                            f"Use one of {sorted(section)}.")
        split = model_split(model, datasets)
        if split["valid"] + split["test"] >= 1:
            raise _fail(f"{key}.split", "valid + test leave no clip for training",
                        "Make valid + test below 1.")
        rendered = datasets[model["dataset"]]["soundfonts"]
        for sf in split["holdout_soundfonts"]:
            if sf not in rendered:
                raise _fail(f"{key}.split.holdout_soundfonts", f"'{sf}' is not rendered in "
                            f"dataset '{model['dataset']}'", f"Hold out one of {rendered}.")
        probe = {k: v for k, v in model.items() if k not in ("swept", "split_scheme")}
        errors = list(_validator(model_schema).iter_errors(probe))
        if errors:
            err = errors[0]
            raise _fail(".".join([key, *map(str, err.absolute_path)]), err.message,
                        "Fix the swept value or key (see config/config.schema.yaml).")
    return models


def evaluation_sets(config: dict) -> dict[str, dict]:
    """The external evaluation sets to score: those whose folder exists.

    A missing folder is skipped (with a note on stderr) when the set is ``optional``, and
    refused otherwise.

    Raises
    ------
    SynthmirError
        For a required set whose folder does not exist.
    """
    found = {}
    for name, entry in config.get("evaluations", {}).items():
        entry = {"labels": "labels.csv", "column": "family", "optional": False, **entry}
        if Path(entry["path"]).is_dir():
            found[name] = entry
        elif entry["optional"]:
            print(f"synthmir: evaluation set '{name}' skipped: no folder {entry['path']}",
                  file=sys.stderr)
        else:
            raise _fail(f"evaluations.{name}.path", f"no folder {entry['path']}",
                        "Point it at a folder of recordings with a labels table, or set "
                        "optional: true.")
    return found


def _schema() -> dict:
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def _validator(sub_schema: dict) -> jsonschema.protocols.Validator:
    resolver_root = {**_schema(), **sub_schema}
    return jsonschema.Draft202012Validator(resolver_root)
