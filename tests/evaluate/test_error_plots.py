"""Error plots: round bins that stop at MIDI's 127, rates fit to the data, per program, F1."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt

from synthmir.evaluate import error_plots as ep
from synthmir.evaluate import metrics as ev
from tests.evaluate.test_metrics import LABELS, P, Y


def test_integer_bins_use_round_widths():
    binned = ep.integer_bins(pd.Series([48, 49, 50, 83]))
    assert list(binned.cat.categories[:2]) == ["48–50", "51–53"]  # 36 pitches: width 3
    assert binned.tolist()[:3] == ["48–50"] * 3 and binned.iloc[3] == "81–83"
    assert ep.integer_bins(pd.Series([1, 2, 4])).cat.categories.tolist() == ["1", "2", "3", "4"]


def test_velocity_bins_end_at_127():
    bins = ep.integer_bins(pd.Series([60, 90, 127])).cat.categories.tolist()
    assert bins[-1].endswith("–127") and bins[0].startswith("60")
    assert all(int(b.split("–")[-1]) <= 127 for b in bins)


def _predictions(error_rate: float, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "split": rng.choice(["valid", "test"], n), "correct": rng.random(n) >= error_rate,
        "pitch": rng.integers(21, 109, n), "velocity": rng.integers(60, 128, n),
        "soundfont": rng.choice(["fluidr3", "timgm6mb"], n),
        "program": rng.choice([0, 1, 40], n), "family": "x", "name": "a_name"})


def test_error_axis_fits_a_one_percent_model(tmp_path, monkeypatch):
    limits = []
    monkeypatch.setattr(ep, "save", lambda fig, folder, name: (
        limits.append((name, fig.axes[0].get_ylim()[1], fig.axes[0])), plt.close(fig)))
    ep.error_by(_predictions(0.01), "soundfont", tmp_path)
    ep.error_by(_predictions(0.5), "soundfont", tmp_path)
    (_, good_top, good_ax), (_, bad_top, _) = limits
    assert good_top < 0.15  # not the whole 0-1 axis: 1 % bars stay visible
    assert bad_top > 0.5
    # Counts under each group: "k/n".
    ticks = [t.get_text() for t in good_ax.get_xticklabels()]
    assert all("/" in t for t in ticks) and ticks[0].startswith("fluidr3")


def test_error_plots_write_png_and_svg(tmp_path):
    predictions = _predictions(0.2).assign(split=lambda d: d["split"].where(
        d.index % 5 > 0, "train"))
    for column in ("pitch", "velocity", "soundfont", "chord"):  # chord: not a column
        ep.error_by(predictions, column, tmp_path)
    ep.per_program_error(predictions, tmp_path)
    ep.per_program_error(predictions.assign(program=0), tmp_path / "one")  # one program
    ep.per_class_f1({"labels": LABELS, "splits": {
        "test": ev.multi_label_metrics(np.eye(3, dtype=int)[Y], P, LABELS)}}, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    for stem in ("error_by_pitch", "error_by_velocity", "error_by_soundfont",
                 "error_by_program", "f1_by_pitch_class"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert "error_by_chord.png" not in names and not (tmp_path / "one").exists()
