"""Evaluation plots of one model, written as PNG (for the HTML report) and SVG (for papers).

This module draws the learning curves, confusion matrices and example pitchgrams, and
:func:`write_model_plots` draws every plot of a model; where it errs is drawn by
:mod:`~synthmir.evaluate.error_plots`, how far its probabilities hold by
:mod:`~synthmir.evaluate.probability_plots`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from synthmir.evaluate import error_plots, probability_plots
from synthmir.evaluate.figures import plt, save
from synthmir.layout import HISTORY_CSV, PLOTS

# Example pitchgrams per class; classes beyond the limit are left out of the grid.
EXAMPLES_PER_CLASS = 3
MAX_EXAMPLE_CLASSES = 16


def learning_curves(history: pd.DataFrame, folder: Path, best_epoch: int | None = None) -> None:
    """Loss and error per epoch, train and valid, with the best (restored) epoch marked.

    ``best_epoch`` (1-based, from train.json) defaults to the epoch of least valid loss.
    """
    if best_epoch is None:
        best_epoch = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.6))
    for ax, metric in zip(axes, ("loss", "error"), strict=True):
        for column, label in ((metric, "train"), (f"val_{metric}", "valid")):
            ax.plot(history["epoch"], history[column], marker=".", label=label)
        best = history.loc[history["epoch"] == best_epoch, f"val_{metric}"]
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
        ax.plot([best_epoch] * len(best), best, "o", color="tab:orange", markersize=7,
                fillstyle="none")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    losses = history[["loss", "val_loss"]].to_numpy()
    if losses.min() > 0 and losses.max() / losses.min() > 10:  # log only where it helps
        axes[0].set_yscale("log")
    fig.tight_layout()
    save(fig, folder, "learning_curves")


def confusion_matrices(result: dict, folder: Path) -> None:
    """Counts and row-normalised confusion matrix for each split (single-label only)."""
    labels = result["labels"]
    for split, metrics in result["splits"].items():
        counts = np.asarray(metrics.get("confusion", []))
        if counts.size == 0:
            continue
        rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        size = 2.2 + 0.38 * len(labels)
        fig, axes = plt.subplots(1, 2, figsize=(2 * size, size))
        for ax, matrix, title, fmt in ((axes[0], counts, "counts", "d"),
                                       (axes[1], rates, "row-normalised (recall)", ".2f")):
            ax.imshow(matrix, cmap="Blues", vmin=0)
            ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(f"{split} ({counts.sum()} clips): {title}", fontsize=10)
            if len(labels) <= 20:
                for (i, j), value in np.ndenumerate(matrix):
                    ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=7,
                            color="white" if value > matrix.max() / 2 else "black")
        fig.tight_layout()
        save(fig, folder, f"confusion_{split}")


def draw_pitchgram(ax: plt.Axes, features: np.ndarray, bin_midi: np.ndarray, kind: str,
                   seconds_per_frame: float) -> None:
    """Draw one clip's features (frames, bins) with time across and pitch up."""
    frames, bins = features.shape
    if kind == "stft":
        low, high, ylabel = -0.5, bins - 0.5, "FFT bin"
    else:
        step = (bin_midi[-1] - bin_midi[0]) / max(bins - 1, 1)
        low, high = bin_midi[0] - step / 2, bin_midi[-1] + step / 2
        ylabel = "pitch class" if kind == "chroma" else "MIDI pitch"
    ax.imshow(features.T, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=1,
              extent=(0, frames * seconds_per_frame, low, high), interpolation="nearest")
    ax.set_xlabel("seconds", fontsize=7)
    ax.set_ylabel(ylabel, fontsize=7)
    ax.tick_params(labelsize=6)


def example_pitchgrams(features_h5: str, predictions: pd.DataFrame, folder: Path) -> None:
    """A few pitchgrams of each true class, read from the features file.

    The first clips of each class in clip order; a title in red marks a misclassified clip.
    """
    from synthmir.features.store import FeatureStore

    classes = sorted(predictions["true"].unique())[:MAX_EXAMPLE_CLASSES]
    picked = (predictions[predictions["true"].isin(classes)].sort_values("clip_id")
              .groupby("true", sort=True).head(EXAMPLES_PER_CLASS))
    with FeatureStore(features_h5) as store:
        row_of = {clip: k for k, clip in enumerate(store.clip_ids)}
        features = store[np.array([row_of[c] for c in picked["clip_id"]], dtype=np.intp)]
        seconds_per_frame = store.params.hop / max(store.sample_rate or 0, 1)
        bin_midi, kind = store.bin_midi, store.params.kind
    fig, axes = plt.subplots(len(classes), EXAMPLES_PER_CLASS, squeeze=False,
                             figsize=(2.3 * EXAMPLES_PER_CLASS, 1.7 * len(classes)))
    for ax in axes.flat:
        ax.set_visible(False)
    for (label, group), row in zip(picked.groupby("true", sort=True), axes, strict=True):
        for ax, (k, clip) in zip(row, group.iterrows(), strict=False):
            ax.set_visible(True)
            draw_pitchgram(ax, features[picked.index.get_loc(k)], bin_midi, kind,
                           seconds_per_frame)
            ax.set_title(f"{label} · {clip['clip_id']} · pitch {clip.get('pitch', '?')}",
                         fontsize=7, color="black" if clip["correct"] else "tab:red")
    fig.tight_layout()
    save(fig, folder, "pitchgrams")


def write_model_plots(model_dir: str, predictions: pd.DataFrame, result: dict,
                      features_h5: str, train: dict) -> None:
    """Every plot of one model into {model_dir}/evaluation/plots/ (PNG and SVG).

    ``train`` is the model's train.json: a model that trained no epoch (a non-learned
    baseline) gets no learning curves, whose axes would show nothing but rounding noise.
    """
    folder = Path(model_dir) / PLOTS
    folder.mkdir(parents=True, exist_ok=True)
    if train.get("epochs_run"):
        learning_curves(pd.read_csv(Path(model_dir) / HISTORY_CSV), folder,
                        train.get("best_epoch"))
    if result["multilabel"]:
        error_plots.per_class_f1(result, folder)
        probability_plots.precision_recall(predictions, result, folder)
        columns = ("n_notes", "chord", "pitch", "velocity", "soundfont")
    else:
        confusion_matrices(result, folder)
        error_plots.per_program_error(predictions, folder)
        example_pitchgrams(features_h5, predictions, folder)
        columns = ("pitch", "velocity", "soundfont")
    probability_plots.reliability_diagram(predictions, result, folder)
    for column in columns:
        error_plots.error_by(predictions, column, folder)
