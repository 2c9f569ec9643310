"""Where the workflow keeps every file, relative to its working directory, and how it writes one.

The rules (rules/*.smk), the workflow scripts and the library all take their paths from here,
so the on-disk layout is written down once. Each function's arguments default to the Snakemake
wildcard of the same name, so a rule can use ``layout.features_h5()`` as an output pattern
and the library the same function with real names::

    data/playable/{soundfont}.csv                 measured playable (program, pitch) pairs
    data/{dataset}/clips.csv                      every clip of a dataset, with its labels
    data/{dataset}/audio/shard{shard}.csv         one shard's clips (merged into clips.csv)
    data/{dataset}/midi/shard{shard}/c000017.mid  data/{dataset}/audio/shard{shard}/c000017.flac
    data/{dataset}/features/{features}.h5         features of every clip (one part per shard
    data/{dataset}/features/{features}/shard{shard}.h5    before the merge)
    data/{dataset}/splits.csv                     train / valid / test per clip
    data/{dataset}/splits/{scheme}.csv            the split of a model's split override
    results/models/{model}/                       model.keras, preprocessing.json, history.csv,
                                                  summary.txt, train.json, evaluation/
    results/models/{model}/evaluation/external/{evaluation}.json (.csv)
                                                  the model scored on an external evaluation set
    results/generalization.json                   leave-one-sound-font-out matrix, external
                                                  sets, degradation table
    results/leaderboard.csv, results/best_model, results/best_models.json, results/report.html

Light on purpose: the Snakefile imports it at parse time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

DATA = "data"
RESULTS = "results"
MODELS = f"{RESULTS}/models"

# The files of a model folder: the saved model (read by evaluation and inference), the
# training record, and the evaluation.
MODEL_KERAS = "model.keras"
PREPROCESSING_JSON = "preprocessing.json"
HISTORY_CSV = "history.csv"
SUMMARY_TXT = "summary.txt"
TRAIN_JSON = "train.json"
EVALUATION = "evaluation"
METRICS_JSON = f"{EVALUATION}/metrics.json"
PREDICTIONS_CSV = f"{EVALUATION}/predictions.csv"
PLOTS = f"{EVALUATION}/plots"

LEADERBOARD_CSV = f"{RESULTS}/leaderboard.csv"
#: The leaderboard's leader (what ``synthmir predict`` uses by default), one id on one line.
BEST_MODEL = f"{RESULTS}/best_model"
#: The leader of each target, ``{"family": id, "pitch_classes": id}``.
BEST_MODELS_JSON = f"{RESULTS}/best_models.json"
REPORT_HTML = f"{RESULTS}/report.html"
#: Generalization of the instrument models: held-out sound fonts, external sets, degradations.
GENERALIZATION_JSON = f"{RESULTS}/generalization.json"


def playable_csv(soundfont: str = "{soundfont}") -> str:
    return f"{DATA}/playable/{soundfont}.csv"


def dataset_dir(dataset: str = "{dataset}") -> str:
    return f"{DATA}/{dataset}"


def clips_csv(dataset: str = "{dataset}") -> str:
    return f"{dataset_dir(dataset)}/clips.csv"


def shard_manifest(dataset: str = "{dataset}", shard: int | str = "{shard}") -> str:
    return f"{dataset_dir(dataset)}/audio/shard{shard}.csv"


def shard_midi_dir(dataset: str = "{dataset}", shard: int | str = "{shard}") -> str:
    return f"{dataset_dir(dataset)}/midi/shard{shard}"


def shard_audio_dir(dataset: str = "{dataset}", shard: int | str = "{shard}") -> str:
    return f"{dataset_dir(dataset)}/audio/shard{shard}"


def clip_id(index: int) -> str:
    """The id of clip ``index`` of a dataset, e.g. ``c000017``."""
    return f"c{index:06d}"


def clip_files(shard: int, index: int, audio_ext: str) -> tuple[str, str]:
    """(MIDI, audio) paths of one clip, relative to its dataset folder (as clips.csv has them)."""
    name = clip_id(index)
    return f"midi/shard{shard}/{name}.mid", f"audio/shard{shard}/{name}.{audio_ext}"


def features_h5(dataset: str = "{dataset}", features: str = "{features}") -> str:
    return f"{dataset_dir(dataset)}/features/{features}.h5"


def features_part(dataset: str = "{dataset}", features: str = "{features}",
                  shard: int | str = "{shard}") -> str:
    return f"{dataset_dir(dataset)}/features/{features}/shard{shard}.h5"


def splits_csv(dataset: str = "{dataset}", scheme: str | None = None) -> str:
    """The dataset's own split, or with ``scheme`` the split of a model's override."""
    folder = dataset_dir(dataset)
    return f"{folder}/splits/{scheme}.csv" if scheme else f"{folder}/splits.csv"


def model_dir(model: str = "{model}") -> str:
    return f"{MODELS}/{model}"


def model_file(name: str, model: str = "{model}") -> str:
    """A file of a model folder, ``name`` one of the names above (e.g. :data:`METRICS_JSON`)."""
    return f"{model_dir(model)}/{name}"


def external_result(suffix: str, evaluation: str = "{evaluation}", model: str = "{model}"
                    ) -> str:
    """A model's scores (``.json``) or per-file predictions (``.csv``) on an evaluation set."""
    return model_file(f"{EVALUATION}/external/{evaluation}{suffix}", model)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    An interrupted job therefore never leaves a file that looks complete. The
    temporary name keeps the suffix so libraries that pick a format from it still work.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.partial-{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
