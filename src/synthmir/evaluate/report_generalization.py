"""The report's generalization section and summary rows, from results/generalization.json.

An in-distribution figure is a sanity check; these are the results: sound fonts a model
never heard (a held-out font × family matrix), degradations of the held-out clips, and
external sets of recordings (per-class accuracy, balanced accuracy, confusion).
"""

from __future__ import annotations

from synthmir.evaluate.summary import error_cell, load_generalization


def _error(entry: dict) -> dict | None:
    """An accuracy entry ({clips, wrong}) as the report's error cell with its interval."""
    return error_cell(entry.get("wrong"), entry.get("clips"))


def _matrix(group: dict) -> dict:
    classes = sorted({c for row in group["rows"] for c in row["per_class"]})
    return {
        "classes": classes,
        "rows": [{"soundfont": row["soundfont"], "model": row["model"], "error": _error(row),
                  "in_split": _error(row["in_split"]) if row.get("in_split") else None,
                  "cells": [_error(row["per_class"][c]) if c in row["per_class"] else None
                            for c in classes]}
                 for row in group["rows"]],
        "overall": _error(group["overall"]),
        "twin": group["twin"],
        "degradations": [{"label": t["label"],
                          "rows": [{"value": r["value"], "error": _error(r)}
                                   for r in t["rows"]]}
                         for t in group["degradations"]],
    }


def _external(entry: dict) -> dict:
    confusion = entry["confusion"]
    return {
        "evaluation": entry["evaluation"], "model": entry["model"], "files": entry["files"],
        "balanced_accuracy": entry["balanced_accuracy"], "accuracy": entry["accuracy"],
        "per_class": [{"label": c, "files": v["files"], "accuracy": v["accuracy"]}
                      for c, v in entry["per_class"].items()],
        "confusion": {"true": confusion["true"], "predicted": confusion["predicted"],
                      "counts": confusion["counts"]},
        "out_of_vocabulary": entry["out_of_vocabulary"],
    }


#: Breakdown recalls shown for music sets (see synthmir.evaluate.harmony_music), in order.
MUSIC_BREAKDOWNS = ("top_only", "register C5 and up", "short_notes", "onsets")


def _music(entry: dict) -> list[dict]:
    """One row per hop of a model scored frame by frame on music."""
    return [{"evaluation": entry["evaluation"], "model": entry["model"], "hop": hop,
             "frames": s["frames"], "f1": s["f1"], "exact": s["exact"],
             "limit": [s.get("hop_limit", {}).get(k) for k in ("f1", "exact")],
             "recalls": [s["breakdown_recall"].get(k) for k in MUSIC_BREAKDOWNS],
             "lingering": s["lingering_false_positives"]}
            for hop, s in entry["hops"].items()]


def generalization_section(ctx) -> list[dict]:
    """Held-out sound fonts, degradations and external sets; nothing when none is configured."""
    result = load_generalization(ctx.root)
    if not result["leave_one_out"] and not result["external"]:
        return []
    music = [e for e in result["external"] if e["column"] == "pitch_classes"]
    return [{"kind": "generalization", "id": "generalization",
             "title": "Generalization: audio the models never heard",
             "matrices": [_matrix(g) for g in result["leave_one_out"]],
             "external": [_external(e) for e in result["external"] if e not in music],
             "music": [row for e in music for row in _music(e)],
             "music_breakdowns": list(MUSIC_BREAKDOWNS)}]
