# Config helpers and get_* input functions shared by every rule file. Every path comes from
# synthmir.layout: its functions' arguments default to the wildcards, so layout.clips_csv()
# is "data/{dataset}/clips.csv".
import csv
import os

from snakemake.exceptions import WorkflowError

from synthmir import layout
from synthmir.config import canonical, check_config, evaluation_sets, model_split
from synthmir.errors import SynthmirError

ENTRY_NAME = "[A-Za-z0-9_][A-Za-z0-9_.-]*"

# Key order in the YAML is not meaningful: params see sorted mappings, so reordering keys
# reruns nothing.
_ordered = canonical(dict(config))
config.clear()
config.update(_ordered)

try:
    MODELS = check_config(config)
    EVALUATIONS = evaluation_sets(config)
except SynthmirError as err:
    raise WorkflowError(str(err)) from None


def library(*modules):
    """Library files a job runs, as inputs, so editing one reruns exactly its stages.

    ``modules`` are paths under src/synthmir/: every module the rule's library function
    imports, directly or not (tests/workflow/test_rule_inputs.py checks the lists), except
    those that cannot change a result (errors.py, logs.py and the package __init__ files).
    Paths are relative to the working directory, so a copy of the workflow and its working
    directory side by side plans the same jobs as the original.
    """
    src = os.path.join(workflow.basedir, "src", "synthmir")
    return [os.path.relpath(os.path.join(src, m)) for m in modules]


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
    """Mixed chords read the rendered clips of their source notes dataset."""
    dataset = get_dataset(wildcards)
    if dataset.get("chord_source") != "mix":
        return []
    return [layout.clips_csv(dataset["mix"]["source"])]


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
            for model, cfg in MODELS.items() if cfg.get("target", "family") == entry["column"]]


def get_evaluation_files(wildcards):
    """An evaluation set's labels table and the recordings it names."""
    entry = EVALUATIONS[wildcards.evaluation]
    folder = entry["path"]
    table = os.path.join(folder, entry["labels"])
    if not os.path.isfile(table):
        raise WorkflowError(f"evaluation set '{wildcards.evaluation}': no labels table {table}; "
                            f"write one with the columns file,{entry['column']}")
    with open(table, newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle) if row.get("file")]
    return {"labels": table, "audio": [os.path.join(folder, f) for f in files]}
