"""Reliability diagrams for both tasks, the precision-recall curve for harmony only."""

from __future__ import annotations

import pandas as pd

from synthmir.evaluate import probability_plots as pp
from tests.evaluate.test_plots import _harmony_predictions


def test_reliability_and_precision_recall_for_harmony(tmp_path):
    predictions, result = _harmony_predictions()
    probability, outcome = pp._outcomes(predictions, result)
    assert probability.shape == outcome.shape == (len(predictions) * 12,)
    pp.reliability_diagram(predictions, result, tmp_path)
    pp.precision_recall(predictions, result, tmp_path)
    assert {"reliability.png", "reliability.svg", "precision_recall.png",
            "precision_recall.svg"} <= {p.name for p in tmp_path.iterdir()}


def test_reliability_of_a_softmax_model_uses_its_top_probability(tmp_path):
    predictions = pd.DataFrame({"split": ["valid", "test", "train"], "confidence": [0.9, 0.6, .5],
                                "correct": [True, False, True]})
    result = {"multilabel": False, "labels": ["a", "b"]}
    probability, outcome = pp._outcomes(predictions, result)
    assert probability.tolist() == [0.9, 0.6] and outcome.tolist() == [1.0, 0.0]
    pp.reliability_diagram(predictions, result, tmp_path)
    pp.precision_recall(predictions, result, tmp_path)  # not for a softmax model
    assert {p.stem for p in tmp_path.glob("*.png")} == {"reliability"}
