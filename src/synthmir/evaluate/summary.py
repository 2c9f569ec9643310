"""What the report says across models: one table per task, the summary rows, sweep plots.

Everything here is built from the leaderboard (results/leaderboard.csv): each function returns
plain data (dicts, lists) that one block of the page's template shows. Every error comes with
its 95 % Wilson interval, from the clips it counts (:func:`error_cell`).

To add a row to the summary at the top of the page, write a function ``(board, root) ->
list of rows`` (see :func:`summary_row`) and append it to :data:`SUMMARY_ROWS`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from synthmir import layout
from synthmir.config_checks import variant_id
from synthmir.evaluate.figures import plt
from synthmir.evaluate.stats import wilson_interval

#: The tasks, in page order: model target -> (title, what its error counts).
TASKS = {
    "family": ("Instrument family", "error = 1 − accuracy: the share of clips whose most "
               "probable family is wrong"),
    "program": ("Instrument program", "error = 1 − accuracy: the share of clips whose most "
                "probable GM program is wrong"),
    "pitch_classes": ("Harmony (pitch classes)", "exact-match error: the share of clips with "
                      "any of the 12 pitch-class decisions wrong; F1 over all decisions"),
}


def _number(value) -> float | None:
    """A table value as a float, None when missing (NaN, None or empty)."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def error_cell(wrong, clips) -> dict | None:
    """An error rate with its 95 % Wilson interval: {value, low, high, wrong, clips}.

    None when the split has no clips (the table shows "–").
    """
    wrong, clips = _number(wrong), _number(clips)
    if wrong is None or not clips:
        return None
    low, high = wilson_interval(wrong, clips)
    return {"value": wrong / clips, "low": low, "high": high, "wrong": int(wrong),
            "clips": int(clips)}


def _flags(row: pd.Series) -> list[str]:
    text = row.get("flags")
    return [f for f in str(text).split("; ") if f] if isinstance(text, str) else []


def _sweep_columns(rows: pd.DataFrame) -> list[str]:
    return [c for c in rows.columns if c.startswith("sweep:") and rows[c].notna().any()]


def model_row(row: pd.Series, sweeps: list[str]) -> dict:
    """One model's line of its task table."""
    rank = _number(row.get("rank"))
    best_epoch, epochs, limit = (_number(row.get(k)) for k in ("best_epoch", "epochs",
                                                                "epoch_limit"))
    return {
        "model": row["model"],
        "rank": int(rank) if rank is not None else None,
        "split": row.get("split") if isinstance(row.get("split"), str) else "",
        "twin": None,  # set when the table lists it under its in-split twin
        "dataset": row["dataset"],
        "architecture": row.get("architecture", ""),
        "sweeps": [row[c] for c in sweeps],
        "valid": error_cell(row.get("valid_wrong"), row.get("valid_clips")),
        "test": error_cell(row.get("test_wrong"), row.get("test_clips")),
        "test_log_loss": _number(row.get("test_log_loss")),
        "test_f1_micro": _number(row.get("test_f1_micro")),
        "music_exact": _number(row.get("music_exact")),
        "parameters": _number(row.get("parameters")),
        "train_seconds": _number(row.get("train_seconds")),
        "epochs": None if epochs is None else
        {"run": int(epochs), "best": int(best_epoch or 0), "limit": int(limit or 0)},
        "flags": _flags(row),
    }


def task_tables(board: pd.DataFrame) -> list[dict]:
    """One table per task present, in :data:`TASKS` order.

    Ranked models come in rank order; a model with a split override follows its in-split
    twin (``heldout`` rows, unranked), or the ranking when it has none.
    """
    tables = []
    for target, (title, metric) in TASKS.items():
        rows = board[board["target"] == target]
        if rows.empty:
            continue
        sweeps = _sweep_columns(rows)
        ranked = rows[rows["rank"].notna()]
        heldout = rows[rows["rank"].isna()]
        lines, placed = [], set()
        for _, row in ranked.iterrows():
            lines.append(model_row(row, sweeps))
            for _, twin in heldout[heldout["twin"] == row["model"]].iterrows():
                lines.append({**model_row(twin, sweeps), "twin": row["model"]})
                placed.add(twin["model"])
        lines += [model_row(r, sweeps) for _, r in heldout.iterrows()
                  if r["model"] not in placed]
        tables.append({"target": target, "title": title, "metric": metric,
                       "multilabel": target == "pitch_classes",
                       "music": bool(rows.get("music_exact", pd.Series()).notna().any()),
                       "sweeps": [c.removeprefix("sweep:") for c in sweeps],
                       "datasets": rows["dataset"].nunique(), "rows": lines})
    return tables


def summary_row(task: str, what: str, model: str, figure: dict | None, metric: str,
                note: str = "", flags: list[str] | None = None) -> dict:
    """One line of the summary: which task, what is shown, the model, its figure and a note."""
    return {"task": task, "what": what, "model": model, "figure": figure, "metric": metric,
            "note": note, "flags": flags or []}


def _figure(line: dict) -> tuple[dict | None, str]:
    """The test error of a table line, else its valid error (a run without a test split)."""
    return (line["test"], "test error") if line["test"] else (line["valid"], "valid error")


def _percent(cell: dict | None) -> str:
    return "–" if cell is None else f"{100 * cell['value']:.1f}%"


def task_summary_rows(board: pd.DataFrame, root: Path) -> list[dict]:
    """Per task: the best model's test figure and the runner-up's, each with its interval."""
    rows = []
    for table in task_tables(board):
        ranked = [line for line in table["rows"] if line["rank"] is not None]
        for what, line in zip(("best", "runner-up"), ranked[:2], strict=False):
            figure, metric = _figure(line)
            note = f"valid {_percent(line['valid'])}"
            if table["multilabel"] and line["test_f1_micro"] is not None:
                note += f", test micro F1 {line['test_f1_micro']:.3f}"
            rows.append(summary_row(table["title"], what, line["model"], figure, metric, note,
                                    line["flags"]))
    return rows


def generalization_rows(board: pd.DataFrame, root: Path) -> list[dict]:
    """Models tested on a split their twin trained on (e.g. a held-out sound font): their test
    figure beside the twin's."""
    rows = []
    for table in task_tables(board):
        for line in table["rows"]:
            if not line.get("twin"):
                continue
            twin = next(t for t in table["rows"] if t["model"] == line["twin"])
            figure, metric = _figure(line)
            rows.append(summary_row(
                table["title"], "held-out split", line["model"], figure, metric,
                f"split {line['split']}; in-split twin {twin['model']}: "
                f"{_percent(_figure(twin)[0])}", line["flags"]))
    return rows


def load_generalization(root: Path) -> dict:
    """results/generalization.json (held-out sound fonts, external sets), empty if absent."""
    path = root / layout.GENERALIZATION_JSON
    return json.loads(path.read_text()) if path.is_file() else {"leave_one_out": [],
                                                                 "external": []}


def external_summary_rows(board: pd.DataFrame, root: Path) -> list[dict]:
    """The best instrument model's figure on each external set of recordings."""
    ranked = board[(board["target"] == "family") & board["rank"].notna()]
    if ranked.empty:
        return []
    best = ranked.sort_values("rank")["model"].iloc[0]
    rows = []
    for entry in load_generalization(root)["external"]:
        if entry["model"] != best or not entry["files"]:
            continue
        wrong = round(entry["files"] * (1 - entry["accuracy"]))
        balanced = entry["balanced_accuracy"]
        rows.append(summary_row(
            TASKS["family"][0], f"recordings: {entry['evaluation']}", best,
            error_cell(wrong, entry["files"]), "error on recordings it never heard",
            f"balanced accuracy {100 * balanced:.1f}% over {len(entry['per_class'])} classes, "
            f"{entry['files']} recordings"))
    return rows


def music_summary_rows(board: pd.DataFrame, root: Path) -> list[dict]:
    """Per music set: the harmony model with the best frame exact match at the longest hop,
    with its F1 and its figures at the other hops."""
    music = [e for e in load_generalization(root)["external"] if e.get("hops")]
    rows = []
    for name in dict.fromkeys(e["evaluation"] for e in music):
        entry = max((e for e in music if e["evaluation"] == name),
                    key=lambda e: e["hops"][max(e["hops"], key=float)]["exact"])
        (longest, scores), *others = sorted(entry["hops"].items(), key=lambda h: -float(h[0]))
        if not scores["frames"]:
            continue
        notes = [f"frame F1 {scores['f1']:.3f}"] + [
            f"hop {hop} s: exact-match error {100 * (1 - s['exact']):.1f}%, F1 {s['f1']:.3f}"
            for hop, s in others]
        rows.append(summary_row(
            TASKS["pitch_classes"][0], f"music: {name}", entry["model"],
            error_cell(round(scores["frames"] * (1 - scores["exact"])), scores["frames"]),
            f"exact-match error per frame, hop {longest} s", "; ".join(notes)))
    return rows


#: The summary's row builders, in page order: each ``(board, root) -> list of summary_row``.
SUMMARY_ROWS: list[Callable[[pd.DataFrame, Path], list[dict]]] = [
    task_summary_rows, generalization_rows, external_summary_rows, music_summary_rows]


def summary_rows(board: pd.DataFrame, root: Path) -> list[dict]:
    """Every row of the summary at the top of the page (:data:`SUMMARY_ROWS`), grouped by task
    in :data:`TASKS` order (builders' order within a task); ``first`` marks a task's first row.
    """
    order = {title: k for k, (title, _) in enumerate(TASKS.values())}
    rows = sorted((row for build in SUMMARY_ROWS for row in build(board, root)),
                  key=lambda row: order.get(row["task"], len(order)))
    return [{**row, "first": k == 0 or rows[k - 1]["task"] != row["task"]}
            for k, row in enumerate(rows)]


def sweep_groups(models: dict[str, dict]) -> dict[str, list[str]]:
    """Sweep name -> its variants' ids (sweeps of two or more variants)."""
    groups: dict[str, list[str]] = {}
    for model_id, entry in models.items():
        swept = entry.get("swept")
        if swept:
            name = model_id.removesuffix(variant_id("", swept))
            groups.setdefault(name if name != model_id else model_id, []).append(model_id)
    return {name: ids for name, ids in groups.items() if len(ids) > 1}


def sweep_figure(name: str, rows: pd.DataFrame, parameter: str) -> plt.Figure:
    """Valid and test error (95 % intervals) of one sweep's variants against a swept value."""
    rows = rows.sort_values(f"sweep:{parameter}")
    values = rows[f"sweep:{parameter}"]
    numeric = pd.api.types.is_numeric_dtype(values)
    x = values.to_numpy(float) if numeric else np.arange(len(values))
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    for k, (split, marker) in enumerate((("valid", "o"), ("test", "s"))):
        wrong, clips = rows[f"{split}_wrong"].to_numpy(float), rows[f"{split}_clips"].to_numpy(
            float)
        if not np.nansum(clips):
            continue
        rate = wrong / clips
        low, high = wilson_interval(wrong, clips)
        shift = (1 + 0.03 * (2 * k - 1)) if numeric else 0.08 * (2 * k - 1)
        ax.errorbar(x * shift if numeric else x + shift, rate, yerr=[rate - low, high - rate],
                    fmt=f"{marker}-", capsize=3, markersize=5, label=split)
    if numeric and (x > 0).all() and x.max() / x.min() >= 4:
        ax.set_xscale("log")
    ax.set_xticks(x, [f"{v:g}" if numeric else str(v) for v in values])
    ax.minorticks_off()
    ax.set_xlabel(parameter)
    ax.set_ylabel("error (95 % interval)")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1, decimals=None))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"sweep {name}: {len(rows)} variants", fontsize=9)
    fig.tight_layout()
    return fig


def sweep_plots(board: pd.DataFrame, models: dict[str, dict], to_uri: Callable) -> dict:
    """Target -> list of {title, uri}: one plot per sweep and swept parameter."""
    plots: dict[str, list[dict]] = {}
    for name, ids in sweep_groups(models).items():
        rows = board[board["model"].isin(ids)]
        if rows.empty:
            continue
        for parameter in models[ids[0]]["swept"]:
            if rows[f"sweep:{parameter}"].nunique() < 2:
                continue
            plots.setdefault(rows["target"].iloc[0], []).append({
                "title": f"Sweep {name}: error against {parameter}",
                "uri": to_uri(sweep_figure(name, rows, parameter))})
    return plots
