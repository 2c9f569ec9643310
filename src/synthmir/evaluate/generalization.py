"""How the instrument models do on audio they never heard: results/generalization.json.

Three views, each from files the workflow already wrote:

- **Leave one sound font out.** A model whose split holds out exactly one sound font
  (``split: {holdout_soundfonts: [X]}``) was trained on the others and tested on all of X's
  clips. Grouped with the models that differ from it only in the held-out font (and with
  its in-split twin, when the config has one), they give a matrix: held-out font × family.
- **Degradations.** The same held-out clips, pooled over the group, by the degradation each
  clip was rendered with (noise SNR, room, codec, reverb send, articulation).
- **External sets.** Every model's scores on each evaluation set of recordings.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from synthmir import layout
from synthmir.layout import atomic_path

INSTRUMENT_TARGETS = ("family", "program")
#: Bands of the degradation table: (column, label, lower edges), a clip in the last band
#: whose edge it reaches; an empty cell is "none".
BANDS = (
    ("snr_db", "noise SNR, dB", (0, 20, 30, 45)),
    ("room_rt60_s", "room RT60, s", (0, 0.3, 0.6)),
    ("reverb_send", "reverb send", (1, 40, 80)),
)
CATEGORIES = (("codec", "codec"), ("noise", "noise kind"), ("articulation", "articulation"))
#: Keys of a model entry that do not define its kind of model (what a group shares).
_NOT_THE_RECIPE = ("split", "split_scheme", "swept")


def _recipe(entry: dict) -> str:
    return json.dumps({k: v for k, v in entry.items() if k not in _NOT_THE_RECIPE},
                      sort_keys=True)


def held_out_font(entry: dict) -> str | None:
    """The one sound font a model holds out, else None."""
    fonts = entry.get("split", {}).get("holdout_soundfonts", [])
    return fonts[0] if len(fonts) == 1 else None


def _accuracy(frame: pd.DataFrame) -> dict:
    correct, n = int(frame["correct"].sum()), len(frame)
    return {"clips": n, "wrong": n - correct, "accuracy": round(correct / n, 4) if n else None}


def _band(values: pd.Series, edges: tuple) -> list[str]:
    """The band of each value; empty cells and values below the first edge are "none"."""
    labels = [f"{lo}–{hi}" for lo, hi in zip(edges, edges[1:], strict=False)] + [f"≥ {edges[-1]}"]
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    index = np.searchsorted(np.asarray(edges, dtype=float), numbers, side="right") - 1
    return ["none" if np.isnan(x) or i < 0 else labels[i]
            for x, i in zip(numbers, index, strict=True)]


def _table_order(value: str) -> tuple:
    """"none" first, then bands from the lowest ("0–20", ..., "≥ 45"), then categories."""
    low = re.match(r"(?:≥ )?(-?[\d.]+)", value)
    return (value != "none", float(low.group(1)) if low else math.inf, value)


def degradation_table(test: pd.DataFrame) -> list[dict]:
    """Accuracy per band or category of every degradation column the clips have."""
    tables = []
    columns = [(c, label, pd.Series(_band(test[c], edges), index=test.index))
               for c, label, edges in BANDS if c in test]
    columns += [(c, label, test[c].fillna("").astype(str).replace("", "none"))
                for c, label in CATEGORIES if c in test]
    if "randomized" in test:
        plain = test["randomized"].astype(str).str.lower().isin(["true", "1"])
        columns.append(("randomized", "clip", plain.map({True: "randomized", False: "plain"})))
    for column, label, groups in columns:
        rows = [{"value": str(value), **_accuracy(test[groups == value])}
                for value in sorted(groups.unique(), key=_table_order)]
        tables.append({"column": column, "label": label, "rows": rows})
    return tables


def leave_one_out(models: dict[str, dict], root: str = ".") -> list[dict]:
    """The leave-one-sound-font-out groups: matrix rows and the pooled degradation table."""
    groups: dict[str, list[str]] = {}
    for model_id, entry in models.items():
        if entry.get("target", "family") in INSTRUMENT_TARGETS and held_out_font(entry):
            groups.setdefault(_recipe(entry), []).append(model_id)
    twins = {_recipe(e): m for m, e in models.items() if "split" not in e}
    out = []
    for recipe, members in groups.items():
        twin = twins.get(recipe)
        twin_test = _test_predictions(twin, root) if twin else None
        rows, pooled = [], []
        for model_id in sorted(members, key=lambda m: held_out_font(models[m])):
            font = held_out_font(models[model_id])
            test = _test_predictions(model_id, root)
            pooled.append(test)
            row = {"soundfont": font, "model": model_id, **_accuracy(test),
                   "per_class": {str(k): _accuracy(g)
                                 for k, g in test.groupby("true", sort=True)}}
            if twin_test is not None and "soundfont" in twin_test:
                row["in_split"] = _accuracy(twin_test[twin_test["soundfont"] == font])
            rows.append(row)
        everything = pd.concat(pooled, ignore_index=True)
        out.append({"models": sorted(members), "twin": twin, "rows": rows,
                    "overall": _accuracy(everything),
                    "degradations": degradation_table(everything)})
    return out


def _test_predictions(model_id: str, root: str) -> pd.DataFrame:
    path = Path(root) / layout.model_file(layout.PREDICTIONS_CSV, model_id)
    table = pd.read_csv(path, dtype={"clip_id": str}, keep_default_na=False, low_memory=False)
    test = table[table["split"] == "test"].copy()
    test["correct"] = test["correct"].astype(str).str.lower().isin(["true", "1"])
    return test


def write_generalization(models: dict[str, dict], external_jsons: list[str], out_json: str,
                         root: str = ".") -> dict:
    """Write results/generalization.json (see the module docstring)."""
    external = [json.loads(Path(p).read_text()) for p in external_jsons]
    result = {"leave_one_out": leave_one_out(models, root),
              "external": sorted(external, key=lambda e: (e["evaluation"], e["model"]))}
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    return result
