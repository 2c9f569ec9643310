"""Where a model errs: error rate against clip attributes, per program, per pitch class.

Every rate is drawn with its 95 % Wilson interval and its counts ("3/40": 3 of 40 clips
wrong), on an axis scaled to the data, so a 1 % model's bars are as readable as a 50 % one's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from synthmir.evaluate.figures import plt, save
from synthmir.evaluate.stats import wilson_interval
from synthmir.learn.splits import HELD_OUT
from synthmir.music import PITCH_CLASS_NAMES

# Error-vs-attribute plots use at most this many bins of a whole-number width.
MAX_BINS = 16
BIN_WIDTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
# MIDI pitches and velocities end here; the last bin stops at it.
MIDI_MAX = 127
# Axis labels of the attributes plotted.
AXIS_LABELS = {"pitch": "MIDI pitch (lowest note)", "velocity": "MIDI velocity",
               "n_notes": "notes in the chord", "chord": "chord quality",
               "soundfont": "sound font"}


def integer_bins(values: pd.Series, max_bins: int = MAX_BINS, upper: int = MIDI_MAX
                 ) -> pd.Series:
    """Label each whole-number value with its bin ("48–50"), bins of a round width.

    The width is the smallest of :data:`BIN_WIDTHS` giving at most ``max_bins`` bins, so
    MIDI pitches bin by semitones, minor thirds, ... octaves; no bin reaches past ``upper``
    (velocities end at 127, not "124–129"). The result is an ordered categorical, so groups
    sort by value.
    """
    low, high = int(values.min()), int(values.max())
    width = next((w for w in BIN_WIDTHS if (high - low) // w + 1 <= max_bins), BIN_WIDTHS[-1])
    start = values.astype(int) - (values.astype(int) - low) % width
    names = {s: str(s) if width == 1 else f"{s}–{min(s + width - 1, upper)}"
             for s in range(low, high + 1, width)}
    return pd.Series(pd.Categorical(start.map(names), categories=list(names.values()),
                                    ordered=True), index=values.index)


def _held_out(predictions: pd.DataFrame, column: str) -> pd.DataFrame:
    if column not in predictions:
        return predictions.iloc[:0]
    return predictions[predictions["split"].isin(HELD_OUT) & predictions[column].notna()]


def _rate_axis(ax: plt.Axes, wrong: np.ndarray, clips: np.ndarray, vertical: bool = True
               ) -> None:
    """Bars of wrong/clips with Wilson whiskers; the rate axis fits the data."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(clips > 0, wrong / clips, np.nan)
    low, high = wilson_interval(wrong, clips)
    position = np.arange(len(rate))
    filled = clips > 0
    if vertical:
        ax.bar(position, np.nan_to_num(rate), color="tab:red", alpha=0.75)
        ax.errorbar(position[filled], rate[filled], fmt="none", ecolor="black",
                    elinewidth=0.8, capsize=2,
                    yerr=[rate[filled] - low[filled], high[filled] - rate[filled]])
    else:
        ax.barh(position, np.nan_to_num(rate), color="tab:red", alpha=0.75)
        ax.errorbar(rate[filled], position[filled], fmt="none", ecolor="black",
                    elinewidth=0.8, capsize=2,
                    xerr=[rate[filled] - low[filled], high[filled] - rate[filled]])
    top = float(np.nanmax(high)) if filled.any() else 1.0
    (ax.set_ylim if vertical else ax.set_xlim)(0, min(1.0, max(top * 1.08, 0.01)))
    (ax.yaxis if vertical else ax.xaxis).set_major_formatter(PercentFormatter(1, decimals=None))
    ax.grid(axis="y" if vertical else "x", alpha=0.3)


def _counts(wrong, clips) -> list[str]:
    """ "k/n" per group: k of n clips wrong ("–" for an empty group)."""
    return [f"{int(k)}/{int(n)}" if n else "–" for k, n in zip(wrong, clips, strict=True)]


def error_by(predictions: pd.DataFrame, column: str, folder: Path) -> None:
    """Error rate of valid+test clips against one clip attribute, with counts and intervals.

    Whole-number attributes (pitch, velocity) are binned by :func:`integer_bins`; empty
    bins stay as gaps, so the axis is not squeezed.
    """
    held_out = _held_out(predictions, column)
    if held_out.empty:
        return
    key = held_out[column]
    numeric = pd.api.types.is_numeric_dtype(key) and not pd.api.types.is_bool_dtype(key)
    if numeric and key.nunique() > 1:
        key = integer_bins(key)
    wrong = ~held_out["correct"].astype(bool)
    grouped = wrong.groupby(key, observed=False, sort=True).agg(["sum", "size"])
    names = [str(k) for k in grouped.index]
    if column == "pitch" and numeric:  # the note name of each bin's lowest pitch
        names = [f"{n}\n{_note_name(int(n.split('–')[0]))}" for n in names]
    wrong_n, clips_n = grouped["sum"].to_numpy(), grouped["size"].to_numpy()
    crowded = sum(len(n.split("\n")[0]) + 1 for n in names) > 70
    fig, ax = plt.subplots(figsize=(min(9.0, 3.0 + 0.5 * len(names)), 3.2))
    _rate_axis(ax, wrong_n, clips_n)
    ax.set_xticks(np.arange(len(names)),
                  [f"{n}\n{c}" for n, c in zip(names, _counts(wrong_n, clips_n), strict=True)],
                  fontsize=6.5 if crowded else 8)
    ax.set_ylabel("error (95 % interval)")
    ax.set_xlabel(f"{AXIS_LABELS.get(column, column)}; below each: clips wrong / clips")
    ax.set_title(f"valid + test: {int(wrong.sum())} of {len(held_out)} clips wrong",
                 fontsize=9)
    fig.tight_layout()
    save(fig, folder, f"error_by_{column}")


def _note_name(pitch: int) -> str:
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def per_program_error(predictions: pd.DataFrame, folder: Path) -> None:
    """Error of valid+test clips per GM program (single-label models), coloured by family.

    Drawn when the clips span more than one program.
    """
    held_out = _held_out(predictions, "program")
    if held_out.empty or held_out["program"].nunique() < 2:
        return
    name = held_out["name"] if "name" in held_out else held_out["program"].astype(str)
    family = held_out["family"] if "family" in held_out else pd.Series("", held_out.index)
    table = (held_out.assign(_wrong=~held_out["correct"].astype(bool), _name=name, _family=family)
             .groupby(["program", "_name", "_family"], sort=True)["_wrong"].agg(["sum", "size"])
             .reset_index())
    fig, ax = plt.subplots(figsize=(6.5, 0.8 + 0.2 * len(table)))
    _rate_axis(ax, table["sum"].to_numpy(), table["size"].to_numpy(), vertical=False)
    families = list(dict.fromkeys(table["_family"]))
    colours = plt.get_cmap("tab10")
    for bar, fam in zip(ax.patches, table["_family"], strict=True):
        bar.set_color(colours(families.index(fam) % 10))
    counts = _counts(table["sum"], table["size"])
    ax.set_yticks(np.arange(len(table)),
                  [f"{p} {n.replace('_', ' ')} ({c})" for p, n, c in
                   zip(table["program"], table["_name"], counts, strict=True)], fontsize=7)
    ax.invert_yaxis()  # program 0 on top
    ax.set_xlabel("error (95 % interval); (clips wrong / clips)")
    ax.set_title(f"valid + test, per program ({len(held_out)} clips)", fontsize=9,
                 pad=16 if len(families) > 1 else 6)
    if len(families) > 1:  # above the bars, under the title
        handles = [plt.Rectangle((0, 0), 1, 1, color=colours(k % 10))
                   for k in range(len(families))]
        ax.legend(handles, families, fontsize=7, loc="lower center", frameon=False,
                  bbox_to_anchor=(0.5, 1.0), ncol=min(8, len(families)), borderaxespad=0.2)
    fig.tight_layout()
    save(fig, folder, "error_by_program")


def per_class_f1(result: dict, folder: Path) -> None:
    """F1 of each output (pitch class) on valid and test, as points on an axis fit to them."""
    labels = result["labels"]
    splits = [s for s in HELD_OUT if s in result["splits"]]
    if not splits:
        return
    fig, ax = plt.subplots(figsize=(8, 2.8))
    values = []
    for k, split in enumerate(splits):
        per_class = result["splits"][split]["per_class"]
        f1 = [per_class[n]["f1-score"] for n in labels]
        values += f1
        ax.plot(np.arange(len(labels)) + (k - (len(splits) - 1) / 2) * 0.15, f1, "o",
                label=f"{split} (macro {np.mean(f1):.3f})", markersize=5)
    ax.set_xticks(np.arange(len(labels)), labels)
    # Fit to the values, but always show at least 0.95-1 so a perfect model is not magnified.
    bottom = max(0.0, min(min(values) - 0.1 * (1 - min(values)), 0.95))
    ax.set_ylim(bottom, 1 + 0.04 * (1 - bottom))
    ax.set_ylabel("F1")
    ax.set_xlabel("pitch class")
    ax.grid(alpha=0.3)
    # Above the axes, where it hides no point.
    ax.legend(fontsize=8, ncol=len(splits), loc="lower center", bbox_to_anchor=(0.5, 1.0),
              frameon=False)
    fig.tight_layout()
    save(fig, folder, "f1_by_pitch_class")
