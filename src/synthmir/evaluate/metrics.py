"""Evaluate a trained model on every split: metrics.json, predictions.csv and the plots."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from synthmir.errors import SynthmirError
from synthmir.layout import (
    METRICS_JSON,
    PREDICTIONS_CSV,
    PREPROCESSING_JSON,
    TRAIN_JSON,
    atomic_path,
)
from synthmir.learn.splits import HELD_OUT, SPLITS
from synthmir.music import pitch_class_matrix

log = logging.getLogger(__name__)
# Mistakes listed per held-out split in the report, most confident first.
MISCLASSIFIED_PER_SPLIT = 8
# Probabilities are clipped to [EPS, 1 - EPS] for the log loss, so one certain mistake costs
# about 34.5 nats instead of infinity.
EPS = 1e-15
# Clip attributes whose per-value errors go into metrics.json (multi-label adds chord columns).
BREAKDOWN_COLUMNS = ("soundfont",)
MULTILABEL_BREAKDOWN_COLUMNS = ("n_notes", "chord", "soundfont")
# predictions.csv leads with these columns, then the probabilities, then every clip label.
PREDICTION_COLUMNS = ("clip_id", "split", "true", "predicted", "correct", "confidence", "p_true")
CLIP_COLUMNS = ("pitch", "velocity", "soundfont")
MISCLASSIFIED_COLUMNS = ["clip_id", "split", "true", "predicted", "confidence", "p_true",
                         "pitch", "velocity", "soundfont", "file"]


def predict_dataset(model_dir: str, features_h5: str, splits_csv: str, batch_size: int = 256
                    ) -> tuple[pd.DataFrame, np.ndarray, list[str], str]:
    """Predict every clip of a features file.

    Returns
    -------
    clips : DataFrame
        One row per clip: the clip's labels from the features file and its split.
    probabilities : ndarray, shape (clips, classes)
    label_names : list of str
    target : str
    """
    from synthmir.features.store import FeatureStore
    from synthmir.learn.saved_model import Predictor

    predictor = Predictor.load(model_dir)
    with FeatureStore(features_h5) as store:
        clips = store.labels.copy()
        clips["clip_id"] = store.clip_ids
        parts = [predictor.predict_features(x) for _, x in store.iter_batches(batch_size)]
    splits = pd.read_csv(splits_csv, dtype={"clip_id": str})
    clips = clips.merge(splits[["clip_id", "split"]], on="clip_id", how="left", validate="1:1")
    return clips, np.concatenate(parts), list(predictor.label_names), predictor.target


def _safe_auc(y_true: np.ndarray, scores: np.ndarray, average: str) -> float | None:
    """One-vs-rest ROC AUC over the classes a split defines it for, else None.

    A class needs positives and negatives in the split; the others are left out rather
    than failing (small splits often lack a class).
    """
    if average == "micro":
        flat = y_true.ravel()
        if not 0 < flat.sum() < flat.size:
            return None
        return float(skm.roc_auc_score(flat, scores.ravel()))
    positives = y_true.sum(axis=0)
    defined = (positives > 0) & (positives < len(y_true))
    if not defined.any():
        return None
    return float(skm.roc_auc_score(y_true[:, defined], scores[:, defined], average="macro"))


def _per_class(report: dict, labels: list[str]) -> dict:
    return {name: {k: float(v) for k, v in report[name].items()} for name in labels}


def _set_texts(indicators: np.ndarray) -> list[str]:
    """Each row of a 0/1 (clips, classes) matrix as its class indices, e.g. "0 4 7"."""
    return [" ".join(map(str, np.flatnonzero(row))) for row in indicators]


def _spread(true_keys: list, predicted_keys: list) -> dict:
    """How often the most common prediction (and the most common truth) occurs, as fractions.

    A model that gives (nearly) every clip the same answer while the truth varies has
    collapsed; the report flags it from these two numbers.
    """
    def top(keys: list) -> tuple[str, float]:
        values, counts = np.unique(np.asarray(keys, dtype=str), return_counts=True)
        return str(values[counts.argmax()]), float(counts.max() / len(keys))

    predicted, predicted_share = top(predicted_keys)
    return {"top_prediction": predicted, "top_prediction_share": predicted_share,
            "top_truth_share": top(true_keys)[1]}


def single_label_metrics(y_true: np.ndarray, probabilities: np.ndarray, labels: list[str]
                         ) -> dict:
    """Metrics of a softmax classifier on one split.

    Parameters
    ----------
    y_true : ndarray, int (clips,)
        Index of each clip's true class in ``labels``.
    probabilities : ndarray, float (clips, classes)
    labels : list of str
    """
    predicted = probabilities.argmax(axis=1)
    one_hot = np.eye(len(labels), dtype=np.int8)[y_true]
    classes = list(range(len(labels)))
    report = skm.classification_report(y_true, predicted, labels=classes, target_names=labels,
                                       output_dict=True, zero_division=0)
    accuracy = float(skm.accuracy_score(y_true, predicted))
    p_true = np.clip(probabilities[np.arange(len(y_true)), y_true], EPS, 1)
    return {
        "clips": int(len(y_true)),
        "wrong": int((predicted != y_true).sum()),
        "accuracy": accuracy,
        "error": 1 - accuracy,
        # Mean -log p(true class), nats; and the multi-class Brier score (sum over classes).
        "log_loss": float(-np.log(p_true).mean()),
        "brier": float(((probabilities - one_hot) ** 2).sum(axis=1).mean()),
        "auc_macro": _safe_auc(one_hot, probabilities, "macro"),
        "auc_micro": _safe_auc(one_hot, probabilities, "micro"),
        **_spread([labels[k] for k in y_true], [labels[k] for k in predicted]),
        "per_class": _per_class(report, labels),
        "confusion": skm.confusion_matrix(y_true, predicted, labels=classes).tolist(),
    }


def multi_label_metrics(y_true: np.ndarray, probabilities: np.ndarray, labels: list[str],
                        threshold: float | np.ndarray = 0.5) -> dict:
    """Metrics of a multi-label (pitch-class) classifier on one split.

    Parameters
    ----------
    y_true : ndarray, 0/1 (clips, classes)
    probabilities : ndarray, float (clips, classes)
        Independent sigmoid outputs.
    labels : list of str
    threshold : float or ndarray (classes,)
        A class is predicted where its probability reaches this.
    """
    predicted = (probabilities >= threshold).astype(np.int8)
    report = skm.classification_report(y_true, predicted, labels=list(range(len(labels))),
                                       target_names=labels, output_dict=True, zero_division=0)
    exact = float(skm.accuracy_score(y_true, predicted))
    p = np.clip(probabilities.astype(np.float64), EPS, 1 - EPS)
    return {
        "clips": int(len(y_true)),
        "wrong": int((predicted != y_true).any(axis=1).sum()),
        "exact_match": exact,
        "error": 1 - exact,
        # Binary cross-entropy (nats) and squared error, averaged over clips and the outputs.
        "log_loss": float(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean()),
        "brier": float(((probabilities - y_true) ** 2).mean()),
        "hamming_loss": float(skm.hamming_loss(y_true, predicted)),
        "f1_micro": float(skm.f1_score(y_true, predicted, average="micro", zero_division=0)),
        "f1_macro": float(skm.f1_score(y_true, predicted, average="macro", zero_division=0)),
        "auc_macro": _safe_auc(y_true, probabilities, "macro"),
        "auc_micro": _safe_auc(y_true, probabilities, "micro"),
        **_spread(_set_texts(y_true), _set_texts(predicted)),
        "per_class": _per_class(report, labels),
    }


def _group_order(values: pd.Series) -> list:
    """Group keys in numeric order when they are numbers, else alphabetical."""
    keys = values.dropna().unique().tolist()
    return sorted(keys, key=lambda k: (0, float(k), "") if _is_number(k) else (1, 0.0, str(k)))


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def error_breakdown(clips: pd.DataFrame, y_true: np.ndarray, probabilities: np.ndarray,
                    labels: list[str], column: str, threshold: float | np.ndarray | None = None
                    ) -> dict[str, dict]:
    """Error (and, for multi-label, Hamming loss and micro F1) per value of a clip column.

    ``threshold`` None means single-label (``y_true`` holds class indices).
    """
    out = {}
    for key in _group_order(clips[column]):
        mask = (clips[column] == key).to_numpy()
        if threshold is None:
            wrong = probabilities[mask].argmax(axis=1) != y_true[mask]
            out[str(key)] = {"clips": int(mask.sum()), "wrong": int(wrong.sum()),
                             "error": float(wrong.mean())}
        else:
            m = multi_label_metrics(y_true[mask], probabilities[mask], labels, threshold)
            out[str(key)] = {k: m[k] for k in ("clips", "wrong", "error", "hamming_loss",
                                                "f1_micro")}
    return out


def _prediction_table(clips: pd.DataFrame, probabilities: np.ndarray, labels: list[str],
                      target: str, threshold: np.ndarray | None) -> pd.DataFrame:
    """One row per clip: split, true and predicted label, confidence, probabilities, labels."""
    clips = clips.reset_index(drop=True)
    table = pd.DataFrame({"clip_id": clips["clip_id"], "split": clips["split"]})
    if threshold is not None:
        y = pitch_class_matrix(clips["pitch_classes"]).astype(bool)
        predicted = probabilities >= threshold
        table["true"] = _set_texts(y)
        table["predicted"] = _set_texts(predicted)
        table["correct"] = (predicted == y).all(axis=1)
        # 0.5 + the margin of the least sure of the 12 yes/no decisions (0.5 + |p - 0.5|
        # at the default threshold), so the most confident mistakes sort first.
        table["confidence"] = np.abs(probabilities - threshold).min(axis=1) + 0.5
        table["p_true"] = np.nan
    else:
        index = {name: k for k, name in enumerate(labels)}
        y = clips[target].astype(str).map(index).to_numpy()
        predicted = probabilities.argmax(axis=1)
        table["true"] = clips[target].astype(str)
        table["predicted"] = [labels[k] for k in predicted]
        table["correct"] = predicted == y
        table["confidence"] = probabilities.max(axis=1)
        table["p_true"] = probabilities[np.arange(len(y)), y]
    table = table[list(PREDICTION_COLUMNS)]
    for k, name in enumerate(labels):
        table[f"p_{name}"] = probabilities[:, k]
    rest = [c for c in CLIP_COLUMNS if c in clips]
    rest += [c for c in clips.columns if c not in rest and c not in table]
    return pd.concat([table, clips[rest]], axis=1)


def most_confident_mistakes(predictions: pd.DataFrame, per_split: int = MISCLASSIFIED_PER_SPLIT
                            ) -> list[dict]:
    """The ``per_split`` most confident wrong predictions of valid and test, as records."""
    mistakes = predictions[~predictions["correct"].astype(bool)
                           & predictions["split"].isin(HELD_OUT)]
    columns = [c for c in MISCLASSIFIED_COLUMNS if c in mistakes]
    picked = (mistakes.sort_values(["confidence", "clip_id"], ascending=[False, True])
              .groupby("split", sort=False).head(per_split)
              .sort_values(["split", "confidence"], ascending=[False, False])[columns])
    # NaN (p_true of multi-label clips) is not JSON.
    return json.loads(picked.to_json(orient="records"))


def evaluate_model(model_dir: str, features_h5: str, splits_csv: str, dataset_dir: str,
                   threads: int = 2) -> dict:
    """Write evaluation/metrics.json, predictions.csv and plots/ for one trained model.

    Parameters
    ----------
    model_dir : str
        results/models/{model}: model.keras, preprocessing.json, history.csv, train.json.
    features_h5, splits_csv : str
        The model's dataset: features of every clip and the split of each.
    dataset_dir : str
        data/{dataset}, recorded so the report can find each clip's audio.
    threads : int

    Returns
    -------
    dict
        What metrics.json holds.
    """
    from synthmir.evaluate.plots import write_model_plots
    from synthmir.runtime import configure_threads

    configure_threads(threads)
    clips, probabilities, labels, target = predict_dataset(model_dir, features_h5, splits_csv)
    if clips["split"].isna().any():
        missing = clips.loc[clips["split"].isna(), "clip_id"].head(3).tolist()
        raise SynthmirError(f"clips {missing}... of {features_h5} are not in {splits_csv}; "
                            "rerun the split rule (snakemake --forcerun split)")
    preprocessing = json.loads((Path(model_dir) / PREPROCESSING_JSON).read_text())
    multilabel = target == "pitch_classes"
    threshold = np.asarray(preprocessing.get("threshold", 0.5)) if multilabel else None
    if multilabel:
        y_all = pitch_class_matrix(clips["pitch_classes"])
        breakdown = [c for c in MULTILABEL_BREAKDOWN_COLUMNS if c in clips]
    else:
        y_all = clips[target].astype(str).map({n: k for k, n in enumerate(labels)}).to_numpy()
        breakdown = [c for c in BREAKDOWN_COLUMNS if c in clips]

    result: dict = {"target": target, "multilabel": multilabel, "labels": labels, "splits": {}}
    if multilabel:
        result["threshold"] = threshold.tolist()
    for split in SPLITS:
        mask = (clips["split"] == split).to_numpy()
        if not mask.any():
            continue
        if multilabel:
            m = multi_label_metrics(y_all[mask], probabilities[mask], labels, threshold)
        else:
            m = single_label_metrics(y_all[mask], probabilities[mask], labels)
        m["by"] = {c: error_breakdown(clips[mask], y_all[mask], probabilities[mask], labels, c,
                                      threshold) for c in breakdown}
        result["splits"][split] = m

    predictions = _prediction_table(clips, probabilities, labels, target, threshold)
    result["misclassified"] = most_confident_mistakes(predictions)
    result["dataset_dir"] = dataset_dir
    train = json.loads((Path(model_dir) / TRAIN_JSON).read_text())
    write_model_plots(model_dir, predictions, result, features_h5, train)
    with atomic_path(Path(model_dir) / PREDICTIONS_CSV) as tmp:
        predictions.to_csv(tmp, index=False)
    with atomic_path(Path(model_dir) / METRICS_JSON) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    for split, m in result["splits"].items():
        log.info("%s: error %.4f (%d of %d clips), log loss %.4f", split, m["error"],
                 m["wrong"], m["clips"], m["log_loss"])
    return result
