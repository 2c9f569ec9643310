"""How far a model's probabilities can be trusted: reliability diagram, precision-recall curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from synthmir.evaluate.figures import plt, save
from synthmir.learn.splits import HELD_OUT
from synthmir.music import pitch_class_matrix

# Equal-width probability bins of the reliability diagram.
RELIABILITY_BINS = 10


def _outcomes(predictions: pd.DataFrame, result: dict) -> tuple[np.ndarray, np.ndarray]:
    """(probability, 0/1 outcome) pairs of the held-out clips, flattened.

    Single-label: each clip's top probability and whether that class was right.
    Multi-label: every output of every clip and whether its pitch class sounds.
    """
    held_out = predictions[predictions["split"].isin(HELD_OUT)]
    if not result["multilabel"]:
        return (held_out["confidence"].to_numpy(float),
                held_out["correct"].astype(bool).to_numpy(float))
    columns = [f"p_{name}" for name in result["labels"]]
    truth = pitch_class_matrix(held_out["true"])
    return held_out[columns].to_numpy(float).ravel(), truth.astype(float).ravel()


def reliability_diagram(predictions: pd.DataFrame, result: dict, folder: Path) -> None:
    """Predicted probability against how often it came true (valid + test), with counts.

    A calibrated model lies on the diagonal. The expected calibration error (ECE) in the
    title is the count-weighted mean distance from it.
    """
    probability, outcome = _outcomes(predictions, result)
    if probability.size == 0:
        return
    edges = np.linspace(0, 1, RELIABILITY_BINS + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, RELIABILITY_BINS - 1)
    counts = np.bincount(which, minlength=RELIABILITY_BINS)
    filled = counts > 0
    mean_p = np.bincount(which, probability, RELIABILITY_BINS)[filled] / counts[filled]
    observed = np.bincount(which, outcome, RELIABILITY_BINS)[filled] / counts[filled]
    ece = float(np.sum(counts[filled] * np.abs(observed - mean_p)) / probability.size)
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(4.6, 4.2),
                                      gridspec_kw={"height_ratios": [3, 1.2]})
    top.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    top.plot(mean_p, observed, "o-", color="tab:blue", label="model")
    top.set_ylabel("fraction that came true")
    top.set_ylim(-0.02, 1.02)
    top.grid(alpha=0.3)
    top.legend(fontsize=7, loc="upper left")
    what = ("top-class probability" if not result["multilabel"]
            else "probability of each pitch class")
    top.set_title(f"valid + test: {probability.size} predictions, ECE {ece:.3f}", fontsize=9)
    bottom.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#c9d3e3",
               edgecolor="white")
    bottom.set_ylabel("count")
    if counts.max() > 20 * max(counts[filled].min(), 1):
        bottom.set_yscale("log")
    bottom.set_xlabel(what)
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    save(fig, folder, "reliability")


def precision_recall(predictions: pd.DataFrame, result: dict, folder: Path) -> None:
    """Micro precision-recall curve of a multi-label model on valid and test, over all outputs,
    with the operating point of its saved threshold; right: zoomed on that point."""
    if not result["multilabel"]:
        return
    columns = [f"p_{name}" for name in result["labels"]]
    threshold = np.asarray(result.get("threshold", 0.5), dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.3))
    corner = 1.0
    for split in [s for s in HELD_OUT if s in set(predictions["split"])]:
        rows = predictions[predictions["split"] == split]
        truth = pitch_class_matrix(rows["true"]).astype(bool)
        scores = rows[columns].to_numpy(float)
        if not truth.any():
            continue
        precision, recall, _ = skm.precision_recall_curve(truth.ravel(), scores.ravel())
        ap = skm.average_precision_score(truth.ravel(), scores.ravel())
        decided = scores >= threshold
        tp = float((decided & truth).sum())
        op_p = tp / max(decided.sum(), 1)
        op_r = tp / truth.sum()
        corner = min(corner, op_p, op_r)
        for ax in axes:
            line, = ax.plot(recall, precision, label=f"{split} (AP {ap:.3f})")
            ax.plot(op_r, op_p, "o", color=line.get_color(), markersize=7, fillstyle="none")
    label = (f"threshold {float(threshold.flat[0]):.2f}" if np.ptp(threshold) == 0
             else "per-class thresholds")
    axes[0].plot([], [], "o", color="grey", fillstyle="none", label=label)
    axes[0].set_xlim(0, 1.01)
    axes[0].set_ylim(0, 1.01)
    axes[0].legend(fontsize=7, loc="lower left")
    # Zoom on the corner where good models sit; the full curve is on the left.
    low = max(0.0, corner - max(0.1, (1 - corner) * 0.5))
    axes[1].set_xlim(low, 1.002)
    axes[1].set_ylim(low, 1.002)
    axes[1].set_title("zoomed on the operating point", fontsize=9)
    axes[0].set_title("all pitch-class decisions (micro)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save(fig, folder, "precision_recall")
