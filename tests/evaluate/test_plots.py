"""Evaluation plots: bins of whole-number attributes, every plot as PNG and SVG."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthmir.evaluate import metrics as ev
from synthmir.evaluate import plots
from tests.evaluate.test_metrics import LABELS, P, Y


def test_integer_bins_use_round_widths():
    binned = plots.integer_bins(pd.Series([48, 49, 50, 83]))
    assert list(binned.cat.categories[:2]) == ["48–50", "51–53"]  # 36 pitches: width 3
    assert binned.tolist()[:3] == ["48–50"] * 3 and binned.iloc[3] == "81–83"
    assert plots.integer_bins(pd.Series([1, 2, 4])).cat.categories.tolist() == [
        "1", "2", "3", "4"]


def test_plots_write_png_and_svg(tmp_path):
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [2.0, 1.0, 0.5], "error": [.6, .4, .2],
                            "val_loss": [2.1, 1.5, 1.7], "val_error": [.7, .5, .6]})
    plots.learning_curves(history, tmp_path)
    rng = np.random.default_rng(0)
    predictions = pd.DataFrame({
        "split": rng.choice(["train", "valid", "test"], 60), "correct": rng.random(60) > 0.3,
        "pitch": rng.integers(21, 109, 60), "soundfont": rng.choice(["x", "y"], 60)})
    plots.error_by(predictions, "pitch", tmp_path)
    plots.error_by(predictions, "soundfont", tmp_path)
    plots.error_by(predictions, "velocity", tmp_path)  # not a column: no plot
    result = {"labels": LABELS, "splits": {
        "valid": ev.single_label_metrics(Y, P, LABELS),
        "test": ev.multi_label_metrics(np.eye(3, dtype=int)[Y], P, LABELS)}}
    plots.confusion_matrices(result, tmp_path)
    plots.per_class_f1(result, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    for stem in ("learning_curves", "error_by_pitch", "error_by_soundfont", "confusion_valid",
                 "f1_by_pitch_class"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert "error_by_velocity.png" not in names and "confusion_test.png" not in names
