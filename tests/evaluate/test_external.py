"""Scoring an external evaluation set."""

import pandas as pd
import pytest

from synthmir.errors import SynthmirError
from synthmir.evaluate.external import read_labels, score


def test_balanced_accuracy_is_the_mean_recall_over_present_classes():
    true = ["piano"] * 4 + ["brass"] * 2
    predicted = ["piano", "piano", "piano", "organ", "organ", "brass"]
    result = score(true, predicted, ["brass", "organ", "piano"])
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["balanced_accuracy"] == pytest.approx((0.75 + 0.5) / 2)
    assert result["confusion"]["true"] == ["brass", "piano"]
    assert result["confusion"]["counts"] == [[1, 1, 0], [0, 1, 3]]


def test_labels_tables_are_checked(tmp_path):
    with pytest.raises(SynthmirError, match="no labels table"):
        read_labels(tmp_path, "labels.csv", "family")
    pd.DataFrame({"file": ["a.wav"], "instrument": ["x"]}).to_csv(tmp_path / "labels.csv",
                                                                   index=False)
    with pytest.raises(SynthmirError, match="family"):
        read_labels(tmp_path, "labels.csv", "family")
    pd.DataFrame({"file": ["a.wav"], "family": ["piano"]}).to_csv(tmp_path / "labels.csv",
                                                                  index=False)
    with pytest.raises(SynthmirError, match="a.wav"):
        read_labels(tmp_path, "labels.csv", "family")
