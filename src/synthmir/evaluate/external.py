"""Score a model on an external evaluation set: a folder of labelled recordings.

The folder holds audio files and a labels table (``labels.csv``: a ``file`` column, paths
relative to the folder, and the label column, e.g. ``family``). Every file is classified
exactly as ``synthmir predict`` would (:func:`synthmir.infer.classify.classify`), so the
figure is what a user gets on their own recordings. Files whose label the model does not
know (an empty label, or a class outside its vocabulary) are predicted but not scored;
the report lists what they were called.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from synthmir.audio import load_audio
from synthmir.errors import SynthmirError
from synthmir.evaluate.harmony_music import score_recordings
from synthmir.infer.classify import Classifier, classify
from synthmir.layout import atomic_path
from synthmir.runtime import configure_threads

log = logging.getLogger(__name__)


def read_labels(folder: str | Path, labels: str, column: str) -> pd.DataFrame:
    """The labels table of an evaluation set, with ``file`` and ``column`` as text.

    Raises
    ------
    SynthmirError
        When the table is missing, lacks a column, or names files that do not exist.
    """
    path = Path(folder) / labels
    if not path.is_file():
        raise SynthmirError(f"evaluation set {folder}: no labels table {path}; write one with "
                            f"the columns file,{column}")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"file", column} - set(table.columns)
    if missing:
        raise SynthmirError(f"{path} lacks the column(s) {sorted(missing)}: it needs file "
                            f"and {column}")
    absent = [f for f in table["file"] if not (Path(folder) / f).is_file()]
    if absent:
        raise SynthmirError(f"{path} names {len(absent)} file(s) not in {folder}, e.g. "
                            f"{absent[0]}; fix the table or add the files")
    return table


def score(true: list[str], predicted: list[str], classes: list[str]) -> dict:
    """Accuracy, balanced accuracy (mean recall over the classes present) and confusion.

    ``true`` holds only labels the model knows; ``classes`` are the model's labels.
    """
    true_arr, pred_arr = np.asarray(true), np.asarray(predicted)
    present = [c for c in classes if (true_arr == c).any()]
    per_class = {c: {"files": int((true_arr == c).sum()),
                     "accuracy": float((pred_arr[true_arr == c] == c).mean())}
                 for c in present}
    matrix = [[int(((true_arr == t) & (pred_arr == p)).sum()) for p in classes] for t in present]
    return {
        "files": len(true),
        "accuracy": float((true_arr == pred_arr).mean()) if len(true) else None,
        "balanced_accuracy": (float(np.mean([v["accuracy"] for v in per_class.values()]))
                              if per_class else None),
        "per_class": per_class,
        "confusion": {"true": present, "predicted": classes, "counts": matrix},
    }


def evaluate_external(model_dir: str, name: str, folder: str, labels: str, column: str,
                      out_json: str, out_csv: str, threads: int = 2) -> dict:
    """Classify every file of an evaluation set with one model and score it.

    Writes ``out_json`` (the scores, see :func:`score`, plus the out-of-vocabulary files'
    predictions) and ``out_csv`` (one row per file: true, predicted, probabilities). With
    ``column`` pitch_classes the set is music, scored frame by frame against each file's
    MIDI file (:mod:`synthmir.evaluate.harmony_music`; one row per file and hop).
    """
    configure_threads(threads)
    if column == "pitch_classes":
        return _evaluate_harmony(model_dir, name, folder, labels, out_json, out_csv)
    table = read_labels(folder, labels, column)
    classifier = Classifier.load(model_dir)
    classes = list(classifier.predictor.label_names)
    rows = []
    for file, truth in zip(table["file"], table[column], strict=True):
        row = {"file": file, "true": truth, "known": truth in classes}
        try:
            prediction = classify(classifier, load_audio(Path(folder) / file,
                                                         classifier.sample_rate),
                                  classifier.sample_rate)
        except SynthmirError as err:  # one unreadable file must not hide the others' scores
            log.warning("%s: %s", file, err)
            rows.append({**row, "predicted": "", "error": str(err)})
            continue
        rows.append({**row, "predicted": prediction.label, "windows": prediction.windows,
                     **{f"p_{c}": round(p, 5) for c, p in prediction.probabilities.items()}})
    results = pd.DataFrame(rows)
    scored = results[results["known"] & (results["predicted"] != "")]
    unknown = results[~results["known"] & (results["predicted"] != "")]
    out = {
        "evaluation": name, "model": Path(model_dir).name, "column": column,
        **score(scored["true"].tolist(), scored["predicted"].tolist(), classes),
        "out_of_vocabulary": {
            "files": int(len(unknown)),
            "labels": sorted(set(unknown["true"]) - {""}),
            "predicted": {str(k): int(v) for k, v in unknown["predicted"].value_counts().items()},
        },
        "unreadable": int((results["predicted"] == "").sum()),
    }
    with atomic_path(out_csv) as tmp:
        results.to_csv(tmp, index=False)
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps(out, indent=1) + "\n")
    log.info("%s on %s: balanced accuracy %s over %d files", out["model"], name,
             out["balanced_accuracy"], out["files"])
    return out


def _evaluate_harmony(model_dir: str, name: str, folder: str, labels: str, out_json: str,
                      out_csv: str) -> dict:
    table = read_labels(folder, labels, "midi")
    scores, rows = score_recordings(Classifier.load(model_dir), folder, table)
    out = {"evaluation": name, "model": Path(model_dir).name, "column": "pitch_classes",
           "files": len(table), "hops": scores}
    with atomic_path(out_csv) as tmp:
        rows.to_csv(tmp, index=False)
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps(out, indent=1) + "\n")
    return out
