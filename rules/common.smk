# Config helpers and get_* input functions shared by every rule file. Every path comes from
# synthmir.layout: its functions' arguments default to the wildcards, so layout.clips_csv()
# is "data/{dataset}/clips.csv".
import csv
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError

from synthmir import layout
from synthmir.code_inputs import library_of
from synthmir.config_checks import evaluation_sets, model_split, prepare, refuse_config_errors

ENTRY_NAME = "[A-Za-z0-9_][A-Za-z0-9_.-]*"

# Checked, completed (keys sorted, so reordering keys in the YAML reruns nothing), and the
# models' sweeps expanded; a bad config stops here, before any job, with one line.
with refuse_config_errors():
    MODELS = prepare(config)
    EVALUATIONS = evaluation_sets(config)


def library(script):
    """workflow_scripts/{script}.py and the library files it runs (found from its imports, see
    synthmir.code_inputs), as inputs: editing one reruns exactly the rules that run it.

    Snakemake compares an input's checksum when it looks newer, so a fresh clone (every file
    new) reruns nothing; its own `code` trigger, on script times alone, is off (profile).
    Paths are relative to the working directory, so a workflow moved together with its
    working directory, or a copy of both side by side, plans the same jobs as the original.
    """
    base = Path(workflow.basedir)
    path = base / "workflow_scripts" / f"{script}.py"
    return [os.path.relpath(f) for f in (path, *library_of(path, base / "src"))]


def get_dataset(wildcards):
    return config["datasets"][wildcards.dataset]


def get_render_params(wildcards):
    """The dataset entry minus what rendering does not depend on (the split)."""
    return {k: v for k, v in get_dataset(wildcards).items() if k != "split"}


def get_soundfonts(wildcards):
    return {sf: config["soundfonts"][sf] for sf in get_dataset(wildcards)["soundfonts"]}


def get_playable_tables(wildcards):
    return {sf: layout.playable_csv(sf) for sf in get_dataset(wildcards)["soundfonts"]}


def get_mix_source(wildcards):
    """Mixed chords read the rendered clips of their source notes dataset, and their audio."""
    dataset = get_dataset(wildcards)
    if dataset.get("chord_source") != "mix":
        return []
    return [layout.clips_csv(dataset["mix"]["source"]), *dataset_audio(dataset["mix"]["source"])]


def dataset_audio(name):
    """The audio folders of every shard of dataset ``name``."""
    return [layout.shard_audio_dir(name, k) for k in range(config["datasets"][name]["shards"])]


def get_shard_manifests(wildcards):
    shards = range(get_dataset(wildcards)["shards"])
    return [layout.shard_manifest(wildcards.dataset, k) for k in shards]


def get_feature_parts(wildcards):
    shards = range(get_dataset(wildcards)["shards"])
    return [layout.features_part(wildcards.dataset, wildcards.features, k) for k in shards]


def get_model(wildcards):
    """The model entry; `swept` only labels leaderboard columns, so training never sees it."""
    hidden = ("swept", "split", "split_scheme")
    return {k: v for k, v in MODELS[wildcards.model].items() if k not in hidden}


def get_split_scheme(wildcards):
    """Split settings of a named override scheme, from any model that declares it."""
    for model in MODELS.values():
        if model["dataset"] == wildcards.dataset and model.get("split_scheme") == wildcards.scheme:
            return model_split(model, config["datasets"])
    raise WorkflowError(f"no model uses split scheme '{wildcards.scheme}'")


def get_model_data(wildcards):
    """The model's features and its split (its dataset's own, or its override's)."""
    model = MODELS[wildcards.model]
    return {
        "features": layout.features_h5(model["dataset"], model["features"]),
        "splits": layout.splits_csv(model["dataset"], model.get("split_scheme")),
    }


def model_files(name):
    """One file of every model folder, e.g. model_files(layout.METRICS_JSON)."""
    return [layout.model_file(name, model) for model in MODELS]


def external_pairs():
    """(evaluation, model) for every evaluation set and every model of its target."""
    return [(name, model) for name, entry in EVALUATIONS.items()
            for model, cfg in MODELS.items() if cfg["target"] == entry["column"]]


def evaluation_folder(entry):
    """The folder of an evaluation set: its own, or its music dataset's."""
    return layout.dataset_dir(entry["dataset"]) if "dataset" in entry else entry["path"]


def get_evaluation_files(wildcards):
    """An evaluation set's labels table and the recordings it names (a music dataset's clip
    table, audio and MIDI files)."""
    entry = EVALUATIONS[wildcards.evaluation]
    if "dataset" in entry:
        name = entry["dataset"]
        shards = range(config["datasets"][name]["shards"])
        return {"labels": layout.clips_csv(name),
                "audio": [*dataset_audio(name), *(layout.shard_midi_dir(name, k) for k in shards)]}
    folder = entry["path"]
    table = os.path.join(folder, entry["labels"])
    if not os.path.isfile(table):
        raise WorkflowError(f"evaluation set '{wildcards.evaluation}': no labels table {table}; "
                            f"write one with the columns file,{entry['column']}")
    with open(table, newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle) if row.get("file")]
    return {"labels": table, "audio": [os.path.join(folder, f) for f in files]}
