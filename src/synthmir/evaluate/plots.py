"""Evaluation plots, written as PNG (for the HTML report) and SVG (for papers)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from synthmir.layout import HISTORY_CSV, PLOTS, atomic_path  # noqa: E402
from synthmir.learn.splits import HELD_OUT  # noqa: E402

# Modest resolution keeps the self-contained report small; the SVGs are for print.
PNG_DPI = 90
# Error-vs-attribute plots use at most this many bins of a whole-number width.
MAX_BINS = 16
BIN_WIDTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
# Example pitchgrams per class; classes beyond the limit are left out of the grid.
EXAMPLES_PER_CLASS = 3
MAX_EXAMPLE_CLASSES = 16


def _save(fig: plt.Figure, folder: Path, name: str) -> None:
    for suffix in ("png", "svg"):
        with atomic_path(folder / f"{name}.{suffix}") as tmp:
            fig.savefig(tmp, dpi=PNG_DPI, bbox_inches="tight", format=suffix)
    plt.close(fig)


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
    _save(fig, folder, "learning_curves")


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
        _save(fig, folder, f"confusion_{split}")


def integer_bins(values: pd.Series, max_bins: int = MAX_BINS) -> pd.Series:
    """Label each whole-number value with its bin ("48–50"), bins of a round width.

    The width is the smallest of :data:`BIN_WIDTHS` giving at most ``max_bins`` bins, so
    MIDI pitches bin by semitones, minor thirds, ... octaves. The result is an ordered
    categorical, so groups sort by pitch.
    """
    low, high = int(values.min()), int(values.max())
    width = next((w for w in BIN_WIDTHS if (high - low) // w + 1 <= max_bins), BIN_WIDTHS[-1])
    start = values.astype(int) - (values.astype(int) - low) % width
    names = {s: str(s) if width == 1 else f"{s}–{s + width - 1}"
             for s in range(low, high + 1, width)}
    return pd.Series(pd.Categorical(start.map(names), categories=list(names.values()),
                                    ordered=True), index=values.index)


def error_by(predictions: pd.DataFrame, column: str, folder: Path) -> None:
    """Mistakes of valid+test clips against one clip attribute: counts and rate.

    Whole-number attributes (pitch, velocity) are binned by :func:`integer_bins`.
    """
    if column not in predictions:
        return
    held_out = predictions[predictions["split"].isin(HELD_OUT) & predictions[column].notna()]
    if held_out.empty:
        return
    key = held_out[column]
    if pd.api.types.is_numeric_dtype(key) and not pd.api.types.is_bool_dtype(key):
        key = integer_bins(key)
    wrong = ~held_out["correct"].astype(bool)
    # Empty bins stay (as gaps), so the pitch axis is not squeezed.
    grouped = wrong.groupby(key, observed=False, sort=True).agg(["sum", "mean", "size"])
    names = [str(k) for k in grouped.index]
    # Panels stacked, so the figure stays narrow enough for half the report's width.
    fig, axes = plt.subplots(2, 1, sharex=True, figsize=(min(8.0, 4.0 + 0.3 * len(names)), 4))
    axes[0].bar(names, grouped["size"], color="#c9d3e3", label="clips")
    axes[0].bar(names, grouped["sum"], color="tab:red", label="mistakes")
    axes[0].set_ylabel("clips")
    axes[0].yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    axes[0].legend(fontsize=7)
    axes[0].set_title(f"valid + test ({len(held_out)} clips)", fontsize=9)
    axes[1].bar(names, grouped["mean"], color="tab:orange")
    axes[1].set_ylabel("error rate")
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel(column)
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    if sum(map(len, names)) > 40:  # labels would overlap side by side
        axes[1].tick_params(axis="x", labelrotation=60, labelsize=7)
    fig.tight_layout()
    _save(fig, folder, f"error_by_{column}")


def per_class_f1(result: dict, folder: Path) -> None:
    """F1 of each output (pitch class) on valid and test, grouped bars."""
    labels = result["labels"]
    splits = [s for s in HELD_OUT if s in result["splits"]]
    if not splits:
        return
    fig, ax = plt.subplots(figsize=(8, 2.8))
    width = 0.8 / len(splits)
    for k, split in enumerate(splits):
        per_class = result["splits"][split]["per_class"]
        ax.bar(np.arange(len(labels)) + k * width, [per_class[n]["f1-score"] for n in labels],
               width, label=split)
    ax.set_xticks(np.arange(len(labels)) + width * (len(splits) - 1) / 2, labels)
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, folder, "f1_by_pitch_class")


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
    _save(fig, folder, "pitchgrams")


def write_model_plots(model_dir: str, predictions: pd.DataFrame, result: dict,
                      features_h5: str, best_epoch: int | None = None) -> None:
    """Every plot of one model into {model_dir}/evaluation/plots/ (PNG and SVG)."""
    folder = Path(model_dir) / PLOTS
    folder.mkdir(parents=True, exist_ok=True)
    learning_curves(pd.read_csv(Path(model_dir) / HISTORY_CSV), folder, best_epoch)
    if result["multilabel"]:
        per_class_f1(result, folder)
        columns = ("n_notes", "chord", "pitch", "velocity", "soundfont")
    else:
        confusion_matrices(result, folder)
        example_pitchgrams(features_h5, predictions, folder)
        columns = ("pitch", "velocity", "soundfont")
    for column in columns:
        error_by(predictions, column, folder)
