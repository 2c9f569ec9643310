"""Evaluation plots, written as PNG (for the HTML report) and SVG (for papers)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from synthmir.io import atomic_path  # noqa: E402

EVAL_SPLITS = ("valid", "test")


def _save(fig: plt.Figure, folder: Path, name: str) -> None:
    for suffix in (".png", ".svg"):
        with atomic_path(folder / f"{name}{suffix}") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format=suffix[1:])
    plt.close(fig)


def learning_curves(history: pd.DataFrame, folder: Path) -> None:
    """Loss and error per epoch, train and valid, with the best (restored) epoch marked."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    best = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    for ax, metric in zip(axes, ("loss", "error"), strict=True):
        ax.plot(history["epoch"], history[metric], label="train")
        ax.plot(history["epoch"], history[f"val_{metric}"], label="valid")
        ax.axvline(best, color="grey", linestyle=":", label=f"best epoch {best}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize=8)
    axes[0].set_yscale("log")
    _save(fig, folder, "learning_curves")


def confusion_matrices(result: dict, folder: Path) -> None:
    """Counts and row-normalised confusion matrix for each evaluated split."""
    labels = result["labels"]
    for split in EVAL_SPLITS:
        counts = np.asarray(result["splits"].get(split, {}).get("confusion", []))
        if counts.size == 0:
            continue
        rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        size = 2.5 + 0.45 * len(labels)
        fig, axes = plt.subplots(1, 2, figsize=(2 * size, size))
        for ax, matrix, title, fmt in ((axes[0], counts, "counts", "d"),
                                       (axes[1], rates, "row-normalised", ".2f")):
            ax.imshow(matrix, cmap="Blues")
            ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(f"{split}: {title}")
            if len(labels) <= 20:
                for (i, j), value in np.ndenumerate(matrix):
                    ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=7,
                            color="white" if value > matrix.max() / 2 else "black")
        _save(fig, folder, f"confusion_{split}")


def error_by(predictions: pd.DataFrame, column: str, folder: Path, bins: int | None = None
             ) -> None:
    """Mistakes (count and rate) of valid+test clips against one clip attribute."""
    held_out = predictions[predictions["split"].isin(EVAL_SPLITS)]
    if column not in held_out or held_out.empty:
        return
    key = held_out[column]
    if bins is not None and pd.api.types.is_numeric_dtype(key):
        key = pd.cut(key, bins=bins)
    grouped = (~held_out["correct"]).groupby(key, observed=True).agg(["sum", "mean", "size"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    names = [str(k) for k in grouped.index]
    axes[0].bar(names, grouped["sum"], color="tab:red")
    axes[0].set_ylabel("mistakes")
    axes[1].bar(names, grouped["mean"], color="tab:orange")
    axes[1].set_ylabel("error rate")
    for ax in axes:
        ax.set_xlabel(column)
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    _save(fig, folder, f"error_by_{column}")


def write_model_plots(model_dir: str, predictions: pd.DataFrame, result: dict) -> None:
    folder = Path(model_dir) / "evaluation" / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    learning_curves(pd.read_csv(Path(model_dir) / "history.csv"), folder)
    confusion_matrices(result, folder)
    error_by(predictions, "pitch", folder, bins=12)
    error_by(predictions, "velocity", folder, bins=8)
    error_by(predictions, "soundfont", folder)
