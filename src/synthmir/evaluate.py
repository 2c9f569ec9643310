"""Evaluate a trained model on every split, and rank models on a leaderboard."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from synthmir.io import atomic_path

log = logging.getLogger(__name__)
SPLITS = ("train", "valid", "test")
# Mistakes listed per split in the report, most confident first.
MISCLASSIFIED_PER_SPLIT = 8


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
    from synthmir.features import FeatureStore
    from synthmir.predictor import Predictor

    predictor = Predictor.load(model_dir)
    with FeatureStore(features_h5) as store:
        clips = store.labels.copy()
        clips["clip_id"] = store.clip_ids
        parts = [predictor.predict_features(x) for _, x in store.iter_batches(batch_size)]
    splits = pd.read_csv(splits_csv, dtype={"clip_id": str})
    clips = clips.merge(splits[["clip_id", "split"]], on="clip_id", how="left", validate="1:1")
    return clips, np.concatenate(parts), list(predictor.label_names), predictor.target


def _pitch_class_matrix(column: pd.Series) -> np.ndarray:
    matrix = np.zeros((len(column), 12), dtype=np.int8)
    for row, text in enumerate(column.fillna("").astype(str)):
        for pc in text.split():
            matrix[row, int(pc)] = 1
    return matrix


def _safe_auc(y_true: np.ndarray, scores: np.ndarray, average: str) -> float | None:
    """ROC AUC, or None where a split lacks the classes that make it defined."""
    present = y_true.sum(axis=0) > 0
    if present.sum() < 2 or not (y_true[:, present] == 0).any():
        return None
    return float(skm.roc_auc_score(y_true[:, present], scores[:, present], average=average))


def single_label_metrics(y_true: np.ndarray, probabilities: np.ndarray, labels: list[str]
                         ) -> dict:
    """Metrics of a softmax classifier on one split; ``y_true`` holds class indices."""
    predicted = probabilities.argmax(axis=1)
    one_hot = np.eye(len(labels), dtype=np.int8)[y_true]
    report = skm.classification_report(y_true, predicted, labels=range(len(labels)),
                                       target_names=labels, output_dict=True, zero_division=0)
    return {
        "clips": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, predicted)),
        "error": float(1 - skm.accuracy_score(y_true, predicted)),
        "auc_macro": _safe_auc(one_hot, probabilities, "macro"),
        "auc_micro": _safe_auc(one_hot, probabilities, "micro"),
        "per_class": {name: {k: float(v) for k, v in report[name].items()} for name in labels},
        "confusion": skm.confusion_matrix(y_true, predicted, labels=range(len(labels))).tolist(),
    }


def multi_label_metrics(y_true: np.ndarray, probabilities: np.ndarray, labels: list[str],
                        threshold: float | np.ndarray) -> dict:
    """Metrics of a multi-label (pitch-class) classifier on one split."""
    predicted = (probabilities >= threshold).astype(np.int8)
    per_class = skm.f1_score(y_true, predicted, average=None, zero_division=0)
    return {
        "clips": int(len(y_true)),
        "exact_match": float(skm.accuracy_score(y_true, predicted)),
        "error": float(1 - skm.accuracy_score(y_true, predicted)),
        "hamming_loss": float(skm.hamming_loss(y_true, predicted)),
        "f1_micro": float(skm.f1_score(y_true, predicted, average="micro", zero_division=0)),
        "f1_macro": float(skm.f1_score(y_true, predicted, average="macro", zero_division=0)),
        "auc_macro": _safe_auc(y_true, probabilities, "macro"),
        "auc_micro": _safe_auc(y_true, probabilities, "micro"),
        "per_class": {name: {"f1-score": float(f)} for name, f in zip(labels, per_class,
                                                                       strict=True)},
    }


def evaluate_model(model_dir: str, features_h5: str, splits_csv: str, dataset_dir: str,
                   threads: int = 2) -> None:
    """Write evaluation/metrics.json, predictions.csv and plots/ for one trained model."""
    from synthmir.plots import write_model_plots
    from synthmir.runtime import configure_threads

    configure_threads(threads)
    clips, probabilities, labels, target = predict_dataset(model_dir, features_h5, splits_csv)
    preprocessing = json.loads((Path(model_dir) / "preprocessing.json").read_text())
    out = Path(model_dir) / "evaluation"
    predictions = clips.copy()
    for k, name in enumerate(labels):
        predictions[f"p_{name}"] = probabilities[:, k]

    result: dict = {"target": target, "labels": labels, "splits": {}}
    if target == "pitch_classes":
        threshold = np.asarray(preprocessing.get("threshold", 0.5))
        y_all = _pitch_class_matrix(clips["pitch_classes"])
        predicted = probabilities >= threshold
        predictions["predicted"] = [" ".join(str(i) for i in np.flatnonzero(row))
                                    for row in predicted]
        predictions["true"] = clips["pitch_classes"].astype(str)
        predictions["correct"] = (predicted == y_all.astype(bool)).all(axis=1)
        predictions["confidence"] = np.abs(probabilities - 0.5).min(axis=1) + 0.5
        for split in SPLITS:
            mask = (clips["split"] == split).to_numpy()
            if mask.any():
                result["splits"][split] = multi_label_metrics(
                    y_all[mask], probabilities[mask], labels, threshold)
    else:
        index = {name: k for k, name in enumerate(labels)}
        y_all = clips[target].astype(str).map(index).to_numpy()
        predicted = probabilities.argmax(axis=1)
        predictions["true"] = clips[target].astype(str)
        predictions["predicted"] = [labels[k] for k in predicted]
        predictions["correct"] = predicted == y_all
        predictions["confidence"] = probabilities.max(axis=1)
        for split in SPLITS:
            mask = (clips["split"] == split).to_numpy()
            if mask.any():
                result["splits"][split] = single_label_metrics(
                    y_all[mask], probabilities[mask], labels)

    mistakes = predictions[~predictions["correct"] & predictions["split"].isin(["valid", "test"])]
    result["misclassified"] = (
        mistakes.sort_values("confidence", ascending=False)
        .groupby("split", sort=False).head(MISCLASSIFIED_PER_SPLIT)
        [["clip_id", "split", "true", "predicted", "confidence", "pitch", "soundfont", "file"]]
        .to_dict(orient="records")
    )
    result["dataset_dir"] = dataset_dir
    write_model_plots(model_dir, predictions, result)
    with atomic_path(out / "predictions.csv") as tmp:
        predictions.to_csv(tmp, index=False)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    for split, m in result["splits"].items():
        log.info("%s: error %.4f, macro AUC %s", split, m["error"], m["auc_macro"])


def write_leaderboard(models: dict[str, dict], models_dir: str, out_csv: str, best_path: str
                      ) -> pd.DataFrame:
    """Rank every model by valid error, then valid AUC (higher first).

    ``best_path`` receives the leader's model id, which ``synthmir predict`` uses by default.
    """
    rows = []
    for model_id, entry in models.items():
        folder = Path(models_dir) / model_id
        result = json.loads((folder / "evaluation" / "metrics.json").read_text())
        train = json.loads((folder / "train.json").read_text())
        valid, test = result["splits"].get("valid", {}), result["splits"].get("test", {})
        row = {
            "model": model_id,
            "dataset": entry["dataset"],
            "features": entry["features"],
            "target": result["target"],
            "architecture": entry.get("architecture", {}).get("kind", ""),
            "valid_error": valid.get("error"),
            "valid_auc": valid.get("auc_macro"),
            "test_error": test.get("error"),
            "test_auc": test.get("auc_macro"),
            "parameters": train.get("parameters"),
            "train_seconds": train.get("wall_time_s"),
            "epochs": train.get("epochs_run"),
        }
        row.update({f"sweep:{k}": v for k, v in entry.get("swept", {}).items()})
        rows.append(row)
    board = pd.DataFrame(rows)
    board["valid_auc_rank"] = -board["valid_auc"].fillna(0)
    board = (board.sort_values(["valid_error", "valid_auc_rank"], kind="stable")
             .drop(columns="valid_auc_rank").reset_index(drop=True))
    board.insert(0, "rank", range(1, len(board) + 1))
    with atomic_path(out_csv) as tmp:
        board.to_csv(tmp, index=False)
    with atomic_path(best_path) as tmp:
        tmp.write_text(board.loc[0, "model"] + "\n")
    return board
