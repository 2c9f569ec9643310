"""Metrics against hand-computed values, the prediction table, and the real run's outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthmir.evaluate import metrics as ev

LABELS = ["a", "b", "c"]


# Rows predict a, b, b, c for true classes a, a, b, c: one mistake in four.
Y = np.array([0, 0, 1, 2])


P = np.array([[0.70, 0.20, 0.10],
              [0.40, 0.50, 0.10],
              [0.35, 0.45, 0.20],
              [0.10, 0.20, 0.70]])


def test_single_label_metrics_match_hand_computed_values():
    m = ev.single_label_metrics(Y, P, LABELS)
    assert m["clips"] == 4
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["error"] == pytest.approx(0.25)
    # One-vs-rest: a and c rank every positive above every negative; b's positive (0.45)
    # beats two of its three negatives (0.2, 0.5, 0.2).
    assert m["auc_macro"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    # Micro: 4 positives x 8 negatives; 0.4 and 0.45 each lose to the 0.5 only.
    assert m["auc_micro"] == pytest.approx(30 / 32)
    assert m["per_class"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1-score": 2 / 3, "support": 2})
    assert m["per_class"]["b"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 1})
    assert m["per_class"]["c"]["f1-score"] == 1.0
    assert m["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_single_label_losses_counts_and_spread():
    m = ev.single_label_metrics(Y, P, LABELS)
    assert m["wrong"] == 1
    # -log p(true): 0.7, 0.4, 0.45, 0.7.
    assert m["log_loss"] == pytest.approx(-np.log([0.7, 0.4, 0.45, 0.7]).mean())
    # Brier: sum over classes of (p - one_hot)^2, averaged over clips.
    brier = [0.3**2 + 0.2**2 + 0.1**2, 0.6**2 + 0.5**2 + 0.1**2,
             0.35**2 + 0.55**2 + 0.2**2, 0.1**2 + 0.2**2 + 0.3**2]
    assert m["brier"] == pytest.approx(np.mean(brier))
    # Predicted a, b, b, c: "b" half the time; the truth's commonest ("a") also half.
    assert (m["top_prediction"], m["top_prediction_share"], m["top_truth_share"]) == (
        "b", 0.5, 0.5)
    certain_mistake = ev.single_label_metrics(np.array([0]), np.array([[0.0, 1.0, 0.0]]),
                                              LABELS)
    assert np.isfinite(certain_mistake["log_loss"]) and certain_mistake["log_loss"] > 30


def test_auc_skips_classes_a_split_lacks():
    y, p = Y[:3], P[:3]  # no clip of class c
    m = ev.single_label_metrics(y, p, LABELS)
    # a: {.7, .4} above {.35}; b: {.45} above .2 but below .5.
    assert m["auc_macro"] == pytest.approx((1 + 0.5) / 2)
    assert m["per_class"]["c"]["support"] == 0
    one_class = ev.single_label_metrics(np.array([0, 0]), P[:2], LABELS)
    assert one_class["auc_macro"] is None


def test_multi_label_metrics_match_hand_computed_values():
    y = np.array([[1, 0, 1], [0, 1, 0]])
    p = np.array([[0.9, 0.6, 0.8], [0.2, 0.7, 0.1]])  # predicts {a, b, c} and {b}
    m = ev.multi_label_metrics(y, p, LABELS, threshold=0.5)
    assert m["exact_match"] == pytest.approx(0.5)
    assert m["error"] == pytest.approx(0.5)
    assert m["hamming_loss"] == pytest.approx(1 / 6)
    assert m["f1_micro"] == pytest.approx(6 / 7)  # TP 3, FP 1, FN 0
    assert m["f1_macro"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert m["per_class"]["b"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 1})
    # Per-class thresholds: b's between 0.6 and 0.7 makes both clips exact; above, neither b.
    strict = ev.multi_label_metrics(y, p, LABELS, threshold=np.array([0.5, 0.75, 0.5]))
    assert strict["exact_match"] == 0.5 and strict["hamming_loss"] == pytest.approx(1 / 6)
    assert ev.multi_label_metrics(y, p, LABELS, threshold=np.array([0.5, 0.65, 0.5])
                                  )["exact_match"] == 1.0
    assert m["wrong"] == 1
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert m["log_loss"] == pytest.approx(bce.mean())
    assert m["brier"] == pytest.approx(((p - y) ** 2).mean())
    assert m["top_prediction_share"] == 0.5 and m["top_truth_share"] == 0.5
    # Saturated float32 outputs (exactly 0 and 1) give a finite loss.
    saturated = ev.multi_label_metrics(y, y.astype(np.float32), LABELS)
    assert saturated["log_loss"] == pytest.approx(0, abs=1e-12)


def test_collapsed_multi_label_model_predicts_one_set():
    y = np.eye(3, dtype=int)[[0, 1, 2, 0]]
    p = np.tile([0.9, 0.1, 0.1], (4, 1))
    m = ev.multi_label_metrics(y, p, LABELS)
    assert (m["top_prediction"], m["top_prediction_share"], m["top_truth_share"]) == (
        "0", 1.0, 0.5)


def test_error_breakdown_by_group_single_and_multi_label():
    clips = pd.DataFrame({"soundfont": ["x", "x", "y", "y"], "n_notes": [3, 3, 2, 10]})
    by_font = ev.error_breakdown(clips, Y, P, LABELS, "soundfont")
    assert by_font == {"x": {"clips": 2, "wrong": 1, "error": 0.5},
                       "y": {"clips": 2, "wrong": 0, "error": 0.0}}
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    p = np.array([[0.9, 0.6, 0.8], [0.2, 0.7, 0.1], [0.8, 0.9, 0.1], [0.1, 0.1, 0.2]])
    by_size = ev.error_breakdown(clips, y, p, LABELS, "n_notes", threshold=0.5)
    assert list(by_size) == ["2", "3", "10"]  # numeric order, not "10" < "2"
    assert by_size["3"]["error"] == 0.5 and by_size["3"]["hamming_loss"] == pytest.approx(1 / 6)
    assert by_size["10"] == {"clips": 1, "wrong": 1, "error": 1.0,
                             "hamming_loss": pytest.approx(1 / 3), "f1_micro": 0.0}


def test_most_confident_mistakes_of_valid_and_test_only():
    predictions = pd.DataFrame({
        "clip_id": [f"c{i}" for i in range(7)],
        "split": ["train", "valid", "valid", "valid", "test", "test", "test"],
        "true": list("aaaaaaa"), "predicted": list("bbabbbb"),
        "correct": [False, False, True, False, False, False, False],
        "confidence": [0.99, 0.6, 0.95, 0.8, 0.7, 0.9, 0.5], "p_true": 0.1,
        "pitch": 60, "velocity": 100, "soundfont": "x", "file": "a.flac",
    })
    picked = ev.most_confident_mistakes(predictions, per_split=2)
    assert [(m["split"], m["clip_id"]) for m in picked] == [
        ("valid", "c3"), ("valid", "c1"), ("test", "c5"), ("test", "c4")]
    assert set(picked[0]) == set(ev.MISCLASSIFIED_COLUMNS)


@pytest.mark.e2e
def test_real_run_writes_every_evaluation_output(tiny_run):
    model = (tiny_run / "results" / "best_model").read_text().strip()
    out = tiny_run / "results" / "models" / model / "evaluation"
    predictions = pd.read_csv(out / "predictions.csv")
    clips = pd.read_csv(tiny_run / "data" / "tiny" / "clips.csv")
    assert len(predictions) == len(clips)
    assert list(predictions.columns[:7]) == list(ev.PREDICTION_COLUMNS)
    for column in ("p_piano", "pitch", "velocity", "soundfont"):
        assert column in predictions
    assert set(predictions["split"]) == {"train", "valid", "test"}
    result = json.loads((out / "metrics.json").read_text())
    for split in ("train", "valid", "test"):
        m = result["splits"][split]
        assert {"error", "wrong", "accuracy", "log_loss", "brier", "top_prediction_share",
                "per_class", "confusion", "by"} <= set(m)
        assert m["wrong"] == round(m["error"] * m["clips"])
        assert m["clips"] == (predictions["split"] == split).sum()
        assert set(m["per_class"]["piano"]) == {"precision", "recall", "f1-score", "support"}
    for mistake in result["misclassified"]:
        assert mistake["split"] in ("valid", "test") and mistake["true"] != mistake["predicted"]
    for stem in ("learning_curves", "confusion_valid", "confusion_test", "error_by_pitch",
                 "error_by_velocity", "error_by_soundfont", "error_by_program", "reliability",
                 "pitchgrams"):
        assert (out / "plots" / f"{stem}.png").stat().st_size > 0
        assert (out / "plots" / f"{stem}.svg").exists()
    board = pd.read_csv(tiny_run / "results" / "leaderboard.csv")
    assert board.loc[0, "model"] == model
    assert "sweep:training.learning_rate" in board


def test_prediction_table_single_and_multi_label():
    clips = pd.DataFrame({"clip_id": ["c0", "c1"], "split": ["valid", "test"],
                          "family": ["a", "b"], "pitch_classes": ["0 4 7", "2"],
                          "pitch": [60, 62], "velocity": [90, 100], "soundfont": ["x", "y"]})
    p = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    single = ev._prediction_table(clips, p, LABELS, "family", None)
    assert list(single.columns[:10]) == [*ev.PREDICTION_COLUMNS, "p_a", "p_b", "p_c"]
    assert single["predicted"].tolist() == ["a", "a"]
    assert single["correct"].tolist() == [True, False]
    assert single["p_true"].tolist() == [0.6, 0.4]
    p12 = np.full((2, 12), 0.1)
    p12[0, [0, 4, 7]] = 0.9
    p12[1, [2, 5]] = [0.8, 0.6]
    multi = ev._prediction_table(clips, p12, [str(k) for k in range(12)], "pitch_classes",
                                 np.asarray(0.5))
    assert multi["predicted"].tolist() == ["0 4 7", "2 5"]
    assert multi["correct"].tolist() == [True, False]
    assert multi["confidence"].tolist() == pytest.approx([0.9, 0.6])
