"""A model's plots: learning curves (none for an untrained model), every plot as PNG and SVG."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthmir.evaluate import metrics as ev
from synthmir.evaluate import plots
from synthmir.music import PITCH_CLASS_NAMES
from tests.evaluate.test_metrics import LABELS, P, Y

HISTORY = pd.DataFrame({"epoch": [1, 2, 3], "loss": [2.0, 1.0, 0.5], "error": [.6, .4, .2],
                        "val_loss": [2.1, 1.5, 1.7], "val_error": [.7, .5, .6]})


def test_plots_write_png_and_svg(tmp_path):
    plots.learning_curves(HISTORY, tmp_path)
    result = {"labels": LABELS, "splits": {"valid": ev.single_label_metrics(Y, P, LABELS)}}
    plots.confusion_matrices(result, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    for stem in ("learning_curves", "confusion_valid"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert "confusion_test.png" not in names


def _harmony_predictions(n: int = 40) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(0)
    truth = (rng.random((n, 12)) < 0.3).astype(int)
    p = np.clip(truth * 0.7 + rng.random((n, 12)) * 0.4, 0, 1)
    predictions = pd.DataFrame({
        "clip_id": [f"c{i}" for i in range(n)], "split": np.array(["valid", "test"])[
            np.arange(n) % 2], "true": [" ".join(map(str, np.flatnonzero(t))) for t in truth],
        "correct": ((p >= 0.5) == truth).all(axis=1), "pitch": rng.integers(48, 84, n),
        "velocity": rng.integers(60, 128, n), "n_notes": truth.sum(axis=1),
        "chord": rng.choice(["maj", "min"], n), "soundfont": rng.choice(["x", "y"], n),
        **{f"p_{name}": p[:, k] for k, name in enumerate(PITCH_CLASS_NAMES)}})
    splits = {s: ev.multi_label_metrics(truth[predictions["split"] == s],
                                        p[predictions["split"] == s], list(PITCH_CLASS_NAMES))
              for s in ("valid", "test")}
    return predictions, {"multilabel": True, "labels": list(PITCH_CLASS_NAMES),
                         "threshold": [0.5] * 12, "splits": splits}


def test_write_model_plots_draws_no_learning_curves_for_an_untrained_model(tmp_path):
    predictions, result = _harmony_predictions()
    HISTORY.iloc[:1].assign(epoch=0).to_csv(tmp_path / "history.csv", index=False)
    plots.write_model_plots(str(tmp_path), predictions, result, "unused.h5",
                            {"epochs_run": 0, "best_epoch": 0})
    drawn = {p.stem for p in (tmp_path / "evaluation" / "plots").glob("*.png")}
    assert drawn == {"f1_by_pitch_class", "precision_recall", "reliability", "error_by_pitch",
                     "error_by_velocity", "error_by_n_notes", "error_by_chord",
                     "error_by_soundfont"}
    HISTORY.to_csv(tmp_path / "history.csv", index=False)
    plots.write_model_plots(str(tmp_path), predictions, result, "unused.h5",
                            {"epochs_run": 3, "best_epoch": 2})
    assert (tmp_path / "evaluation" / "plots" / "learning_curves.png").exists()
