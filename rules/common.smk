# Config helpers and get_* input functions shared by every rule file.
from snakemake.exceptions import WorkflowError

from synthmir.config import canonical, check_config, model_split
from synthmir.errors import SynthmirError

ENTRY_NAME = "[A-Za-z0-9_][A-Za-z0-9_.-]*"

# Key order in the YAML is not meaningful: params see sorted mappings, so reordering keys
# reruns nothing.
_ordered = canonical(dict(config))
config.clear()
config.update(_ordered)

try:
    MODELS = check_config(config)
except SynthmirError as err:
    raise WorkflowError(str(err)) from None

def library(*modules):
    """Library files a job runs, as inputs, so editing one reruns exactly its stages."""
    return [f"{workflow.basedir}/src/synthmir/{m}" for m in modules]


def get_dataset(wildcards):
    return config["datasets"][wildcards.dataset]


def get_render_params(wildcards):
    """The dataset entry minus what rendering does not depend on (the split)."""
    return {k: v for k, v in get_dataset(wildcards).items() if k != "split"}


def get_soundfonts(wildcards):
    return {sf: config["soundfonts"][sf] for sf in get_dataset(wildcards)["soundfonts"]}


def get_playable_tables(wildcards):
    return {sf: f"data/playable/{sf}.csv" for sf in get_dataset(wildcards)["soundfonts"]}


def get_mix_source(wildcards):
    """Mixed chords read the rendered clips of their source notes dataset."""
    dataset = get_dataset(wildcards)
    if dataset.get("chord_source") != "mix":
        return []
    return [f"data/{dataset['mix']['source']}/clips.csv"]


def get_shard_manifests(wildcards):
    shards = range(get_dataset(wildcards)["shards"])
    return [f"data/{wildcards.dataset}/audio/shard{k}.csv" for k in shards]


def get_feature_parts(wildcards):
    shards = range(get_dataset(wildcards)["shards"])
    return [f"data/{wildcards.dataset}/features/{wildcards.features}/shard{k}.h5" for k in shards]


def get_model(wildcards):
    """The model entry; `swept` only labels leaderboard columns, so training never sees it."""
    hidden = ("swept", "split", "split_scheme")
    return {k: v for k, v in MODELS[wildcards.model].items() if k not in hidden}


def splits_path(model):
    """The dataset's own splits.csv, or the file of the model's split override."""
    scheme = model.get("split_scheme")
    folder = f"data/{model['dataset']}"
    return f"{folder}/splits/{scheme}.csv" if scheme else f"{folder}/splits.csv"


def get_split_scheme(wildcards):
    """Split settings of a named override scheme, from any model that declares it."""
    for model in MODELS.values():
        if model["dataset"] == wildcards.dataset and model.get("split_scheme") == wildcards.scheme:
            return model_split(model, config["datasets"])
    raise WorkflowError(f"no model uses split scheme '{wildcards.scheme}'")


def get_model_data(wildcards):
    model = MODELS[wildcards.model]
    return {
        "features": f"data/{model['dataset']}/features/{model['features']}.h5",
        "splits": splits_path(model),
    }


def model_files(name):
    return [f"results/models/{model}/{name}" for model in MODELS]
