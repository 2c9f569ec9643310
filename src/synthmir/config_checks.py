"""A whole config made ready for the workflow: checked, completed, cross-checked, swept.

:func:`prepare` is what the Snakefile runs before any job: the schema (with its defaults, see
:mod:`synthmir.config`), then what JSON Schema cannot express (references between entries,
relations between values, sound font files), then every model's sweep variants, each checked
and completed on its own (a swept architecture kind changes which options apply).

Imported by the Snakefile at parse time, so it stays light: no numpy, no TensorFlow.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synthmir.config import canonical, check, check_plain, complete, load_yaml, schema
from synthmir.errors import ConfigError, SynthmirError
from synthmir.music import reserved_piece

# Ids longer than this get a short hash instead of their tail, so paths stay manageable.
MAX_ID_LENGTH = 60
# Every SoundFont 2 file (.sf2, and .sf3 with compressed samples) is a RIFF form of this type.
SOUNDFONT_MAGIC = (b"RIFF", b"sfbk")
# Architectures that read pitch bins, so they need pitchgram features and predict pitch classes.
PITCH_KINDS = ("pitchfold", "framefold", "chroma_mean")
#: Architecture kinds that decide every frame: trained on the frame labels of music datasets.
FRAME_KINDS = ("framefold",)


@contextlib.contextmanager
def refuse_config_errors() -> Iterator[None]:
    """In the Snakefile: a config error ends the run with its one line and exit status 1.

    Raised as a WorkflowError it would come with the Snakefile's location and a traceback
    line, which say nothing about the user's config.
    """
    try:
        yield
    except SynthmirError as err:
        sys.exit(str(err))


def check_files(*paths: str | os.PathLike) -> None:
    """Read each existing YAML config file; a syntax error or a repeated key names the file,
    line and column (Snakemake reads them again itself)."""
    for path in paths:
        if Path(path).is_file():
            load_yaml(path)


def prepare(config: dict) -> dict[str, dict]:
    """Check and complete ``config`` in place (keys sorted); return its expanded models.

    Returns
    -------
    dict
        Model id -> complete model entry, in config order; a sweep variant also carries
        ``swept`` (its assignment), a model with its own split ``split_scheme``.

    Raises
    ------
    ConfigError
        On the first problem, naming its key path.
    """
    if not isinstance(config, dict) or not config:
        raise ConfigError("", "the config is empty or not a mapping of sections",
                          "Give datasets, features and models (see config/config.yaml).")
    check_plain(config)
    check(None, config)
    ordered = canonical(config)
    config.clear()
    config.update(ordered)
    models, entries = {}, {}
    for name, model_id, variant in _variants(config["models"]):
        if model_id in models:
            raise ConfigError(f"models.{name}", f"model id '{model_id}' is made twice",
                              "Rename one of the entries or change the sweep.")
        models[model_id], entries[model_id] = variant, name
    check_references(config, models, entries)
    return models


def _format_value(value: Any) -> str:
    if isinstance(value, list | dict):
        value = json.dumps(value, separators=(",", ":"))
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", str(value)).strip("-")


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


def _set_path(entry: dict, path: str, value: Any, key: str) -> None:
    keys = path.split(".")
    node = entry
    for name in keys[:-1]:
        node = node.setdefault(name, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}.sweep.{path}", f"'{name}' is not a section",
                              "Sweep a key inside a section, e.g. training.learning_rate.")
    node[keys[-1]] = value


def _variants(models: dict[str, dict]) -> Iterator[tuple[str, str, dict]]:
    """(entry name, model id, complete entry) of every sweep variant, in config order."""
    for name, entry in models.items():
        key = f"models.{name}"
        grid = entry.get("sweep", {})
        check("sweep", grid, f"{key}.sweep")
        base = {k: v for k, v in entry.items() if k != "sweep"}
        for values in itertools.product(*grid.values()):
            assignment = dict(zip(grid, values, strict=True))
            variant = copy.deepcopy(base)
            for path, value in assignment.items():
                _set_path(variant, path, value, key)
            model_id = variant_id(name, assignment)
            try:
                variant = canonical(complete("model", variant, key))
            except ConfigError as err:
                if not assignment:
                    raise
                raise ConfigError(err.key, f"{err.problem} (in sweep variant {model_id})",
                                  err.fix) from None
            if assignment:
                variant["swept"] = assignment
            if "split" in variant:
                variant["split_scheme"] = split_scheme(variant["split"])
            yield name, model_id, variant


def expand_models(models: dict[str, dict]) -> dict[str, dict]:
    """Expand every model's ``sweep:`` grid into named variants, each checked and completed.

    Returns a mapping model id -> complete model entry (without ``sweep``), in config order.
    """
    return {model_id: variant for _, model_id, variant in _variants(models)}


def split_scheme(override: dict) -> str:
    """Stable, readable name of a model's split override, e.g. ``holdout_soundfonts-timgm6mb``."""
    return variant_id("split", override).removeprefix("split_")


def model_split(model: dict, datasets: dict) -> dict:
    """The split settings a model trains with: its dataset's, updated by its own override."""
    return {**datasets[model["dataset"]]["split"], **model.get("split", {})}


def _check_range(key: str, section: dict | None) -> None:
    if section and section["min"] > section["max"]:
        raise ConfigError(key, f"min {section['min']} is above max {section['max']}",
                          "Swap them.")


def _check_soundfont(name: str, entry: dict) -> None:
    path = Path(entry["path"])
    key = f"soundfonts.{name}.path"
    if not path.is_file():
        package = entry.get("package")
        fix = (f"Install it: apt-get install --no-install-recommends {package}"
               if package else "Point the path at an existing .sf2/.sf3 file")
        raise ConfigError(key, f"no sound font file at {path}", f"{fix}, or set {key}.")
    with open(path, "rb") as handle:
        head = handle.read(12)
    if (head[:4], head[8:12]) != SOUNDFONT_MAGIC:
        raise ConfigError(key, f"{path} is not a SoundFont file (no RIFF sfbk header)",
                          "Point it at a .sf2 or .sf3 sound font.")


def _check_split(key: str, split: dict, rendered: list[str]) -> None:
    if split["valid"] + split["test"] >= 1:
        raise ConfigError(key, "valid + test leave no clip for training",
                          "Make valid + test below 1.")
    for sf in split["holdout_soundfonts"]:
        if sf not in rendered:
            raise ConfigError(f"{key}.holdout_soundfonts", f"'{sf}' is not rendered here",
                              f"Hold out one of {', '.join(rendered)}.")
    if set(rendered) <= set(split["holdout_soundfonts"]):
        raise ConfigError(f"{key}.holdout_soundfonts", "every rendered sound font is held "
                          "out, so no clip is left for training", "Hold out fewer.")


def _check_dataset(name: str, ds: dict, config: dict) -> None:
    key, soundfonts, datasets = f"datasets.{name}", config["soundfonts"], config["datasets"]
    for sf in ds["soundfonts"]:
        if sf not in soundfonts:
            raise ConfigError(f"{key}.soundfonts", f"unknown sound font '{sf}'",
                              f"Use one of {', '.join(sorted(soundfonts))} or add it under "
                              "'soundfonts'.")
        _check_soundfont(sf, soundfonts[sf])
    if ds["shards"] > ds["clips"]:
        raise ConfigError(f"{key}.shards", f"{ds['shards']} shards for {ds['clips']} clips",
                          "Use at most one shard per clip.")
    if ds["note_seconds"] > ds["clip_seconds"]:
        raise ConfigError(f"{key}.note_seconds", "the note is longer than the clip",
                          "Make note_seconds at most clip_seconds.")
    _check_range(f"{key}.pitch", ds["pitch"])
    _check_range(f"{key}.velocity", ds["velocity"])
    if ds["velocity"]["min"] < 1:
        raise ConfigError(f"{key}.velocity.min", "velocity 0 is a note-off (silence)",
                          "Use velocities from 1 to 127.")
    _check_range(f"{key}.jitter.gain_db", ds["jitter"]["gain_db"])
    _check_range(f"{key}.jitter.snr_db", ds["jitter"]["snr_db"])
    if ds.get("chord_source") == "mix":
        _check_range(f"{key}.mix.weight_db", ds["mix"]["weight_db"])
        source = ds["mix"]["source"]
        other = datasets.get(source)
        if other is None or other["kind"] != "notes":
            raise ConfigError(f"{key}.mix.source", f"'{source}' is not a notes dataset here",
                              "Name the notes dataset whose clips are mixed into chords.")
        for option in ("sample_rate", "clip_seconds"):
            if ds[option] != other[option]:
                raise ConfigError(f"{key}.{option}", f"{ds[option]} differs from the mixed "
                                  f"dataset '{source}' ({other[option]})",
                                  f"Give both the same {option}.")
        missing = sorted(set(ds["soundfonts"]) - set(other["soundfonts"]))
        if missing:
            raise ConfigError(f"{key}.soundfonts", f"{', '.join(missing)} not rendered in the "
                              f"mixed dataset '{source}'",
                              f"Use some of {', '.join(other['soundfonts'])}.")
    if ds["kind"] == "music":
        _check_music(f"{key}.music", ds["music"])
    _check_split(f"{key}.split", ds["split"], ds["soundfonts"])


def _check_music(key: str, music: dict) -> None:
    for option in ("voices", "beats_per_chord", "beat_seconds"):
        _check_range(f"{key}.{option}", music[option])
    _check_range(f"{key}.corpus.quarter_seconds", music["corpus"]["quarter_seconds"])
    if not (1 <= music["voices"]["min"] and music["voices"]["max"] <= 15):
        raise ConfigError(f"{key}.voices", "a music clip holds 1 to 15 voices (one MIDI "
                          "channel each)", "Use voices within 1..15.")
    if music["beat_seconds"]["min"] <= 0:
        raise ConfigError(f"{key}.beat_seconds.min", "a beat must last", "Use a positive value.")
    for piece in music["corpus"]["pieces"]:
        if reserved_piece(piece):
            raise ConfigError(f"{key}.corpus.pieces", f"'{piece}': Bach is reserved for "
                              "independent evaluation", "Choose pieces by other composers.")


def _families_of(programs: dict) -> set[str]:
    families = schema()["$defs"]["programs"]["properties"]["families"]["else"]["items"]["enum"]
    if "list" in programs:
        return {families[p // 8] for p in programs["list"]}
    return set(families) if programs["families"] == "all" else set(programs["families"])


def _check_model(name: str, model_id: str, model: dict, config: dict) -> None:
    try:
        _check_variant(f"models.{name}", model, config)
    except ConfigError as err:
        if model_id == name:
            raise
        raise ConfigError(err.key, f"{err.problem} (in sweep variant {model_id})",
                          err.fix) from None


def _check_variant(key: str, model: dict, config: dict) -> None:
    datasets, features = config["datasets"], config["features"]
    for ref, section in (("dataset", datasets), ("features", features)):
        if model[ref] not in section:
            raise ConfigError(f"{key}.{ref}", f"no {ref} entry named '{model[ref]}'",
                              f"Use one of {', '.join(sorted(section))}.")
    dataset = datasets[model["dataset"]]
    _check_split(f"{key}.split", model_split(model, datasets), dataset["soundfonts"])
    kind, target = model["architecture"]["kind"], model["target"]
    if kind in FRAME_KINDS and dataset["kind"] != "music":
        raise ConfigError(f"{key}.dataset", f"architecture {kind} learns frame labels, which "
                          f"only music datasets have ('{model['dataset']}' is "
                          f"{dataset['kind']})", "Name a dataset of kind music.")
    if kind in PITCH_KINDS:
        if target != "pitch_classes":
            raise ConfigError(f"{key}.target", f"architecture {kind} predicts the 12 pitch "
                              f"classes, not {target}", "Use target: pitch_classes, or "
                              "another architecture kind.")
        if features[model["features"]]["kind"] != "pitchgram":
            raise ConfigError(f"{key}.features", f"architecture {kind} folds pitch bins, but "
                              f"'{model['features']}' is not a pitchgram feature set",
                              "Name a feature entry of kind pitchgram.")
    programs = dataset["programs"]
    if target == "family" and len(_families_of(programs)) < 2:
        raise ConfigError(f"{key}.target", f"dataset '{model['dataset']}' draws from one "
                          "family only, so there is nothing to tell apart",
                          "Draw programs of at least two families, or predict another target.")
    if target == "program" and "list" in programs and len(set(programs["list"])) < 2:
        raise ConfigError(f"{key}.target", f"dataset '{model['dataset']}' plays one program "
                          "only", "List at least two programs, or predict another target.")


def evaluation_sets(config: dict) -> dict[str, dict]:
    """The external evaluation sets to score: those whose folder exists.

    A missing folder is skipped (with a note on stderr) when the set is ``optional``, and
    refused otherwise.

    Raises
    ------
    ConfigError
        For a required set whose folder does not exist.
    """
    found = {}
    for name, entry in config["evaluations"].items():
        if "dataset" in entry:  # checked with the references
            found[name] = entry
        elif Path(entry["path"]).is_dir():
            found[name] = entry
        elif entry["optional"]:
            print(f"synthmir: evaluation set '{name}' skipped: no folder {entry['path']}",
                  file=sys.stderr)
        else:
            raise ConfigError(f"evaluations.{name}.path", f"no folder {entry['path']}",
                              "Point it at a folder of recordings with a labels table, or set "
                              "optional: true.")
    return found


def check_references(config: dict, models: dict[str, dict], entries: dict[str, str]) -> None:
    """Check what the schema cannot: references between entries and relations between values.

    ``entries`` maps each model id to the config entry it comes from, for messages.

    Raises
    ------
    ConfigError
        Naming the key, the problem and the fix.
    """
    for name, entry in config.get("evaluations", {}).items():
        if "dataset" not in entry:
            continue
        dataset = config["datasets"].get(entry["dataset"])
        if dataset is None or dataset["kind"] != "music" or entry["column"] != "pitch_classes":
            raise ConfigError(f"evaluations.{name}.dataset", f"'{entry['dataset']}' is not a "
                              "music dataset of this config scored on pitch_classes",
                              "Name a dataset of kind music and set column: pitch_classes.")
    for name, ds in config["datasets"].items():
        _check_dataset(name, ds, config)
    for name, fs in config["features"].items():
        if fs["bin_max"] <= fs["bin_min"]:
            raise ConfigError(f"features.{name}.bin_max", "bin_max must be above bin_min",
                              "The bins cover [bin_min, bin_max) semitones from A4.")
        if fs["hop"] > fs["block_size"]:
            raise ConfigError(f"features.{name}.hop", "hop is longer than block_size",
                              "Frames would skip samples; use hop <= block_size.")
    for model_id, model in models.items():
        _check_model(entries[model_id], model_id, model, config)
