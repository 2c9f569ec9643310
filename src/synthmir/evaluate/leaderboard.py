"""The leaderboard: every model ranked by its valid error, and the leader of each target."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from synthmir.errors import SynthmirError
from synthmir.layout import METRICS_JSON, TRAIN_JSON, atomic_path

# Instrument models first: `best_model` (what `synthmir predict` uses) names an instrument model
# whenever one exists; harmony models are ranked among themselves below them.
TARGET_ORDER = {"family": 0, "program": 1, "pitch_classes": 2}


def rank_models(board: pd.DataFrame) -> pd.DataFrame:
    """Order by target, then valid error, then valid macro AUC (higher first), then model id.

    ``rank`` counts within each target. A missing error or AUC (a split without the classes
    to define it) ranks after any value.
    """
    order = board.assign(_auc=-board["valid_auc"].astype(float),
                         _target=board["target"].map(TARGET_ORDER).fillna(len(TARGET_ORDER)))
    order = order.sort_values(["_target", "valid_error", "_auc", "model"], na_position="last",
                              kind="stable")
    ranked = order.drop(columns=["_auc", "_target"]).reset_index(drop=True)
    ranked.insert(0, "rank", ranked.groupby("target", sort=False).cumcount() + 1)
    return ranked


def write_leaderboard(models: dict[str, dict], models_dir: str, out_csv: str, best_path: str,
                      best_by_target_path: str) -> pd.DataFrame:
    """Rank every model by valid error, then valid AUC; write the table and the leader's id.

    Parameters
    ----------
    models : dict
        Model id -> its config entry (``swept`` holds the values a sweep set).
    models_dir : str
        results/models, holding {model}/evaluation/metrics.json and {model}/train.json.
    out_csv, best_path : str
        results/leaderboard.csv and results/best_model (read by ``synthmir predict``).
    best_by_target_path : str
        results/best_models.json: the leader of each target (``predict --task harmony``).
    """
    if not models:
        raise SynthmirError("no models in the config: add an entry under `models:`")
    rows = []
    for model_id, entry in models.items():
        folder = Path(models_dir) / model_id
        result = json.loads((folder / METRICS_JSON).read_text())
        train = json.loads((folder / TRAIN_JSON).read_text())
        valid, test = result["splits"].get("valid", {}), result["splits"].get("test", {})
        rows.append({
            "model": model_id,
            "dataset": entry["dataset"],
            "features": entry["features"],
            "target": result["target"],
            "architecture": entry.get("architecture", {}).get("kind", ""),
            "valid_error": valid.get("error"),
            "valid_auc": valid.get("auc_macro"),
            "test_error": test.get("error"),
            "test_auc": test.get("auc_macro"),
            "parameters": train.get("parameters"),
            "train_seconds": train.get("wall_time_s"),
            "epochs": train.get("epochs_run"),
            # trained on part of the data to test generalization (e.g. a held-out sound
            # font): ranked, but never the model users get by default
            "split_override": "split" in entry,
            **{f"sweep:{k}": v for k, v in entry.get("swept", {}).items()},
        })
    board = rank_models(pd.DataFrame(rows))
    with atomic_path(out_csv) as tmp:
        board.to_csv(tmp, index=False)
    eligible = board[~board["split_override"]]
    eligible = eligible if len(eligible) else board
    with atomic_path(best_path) as tmp:
        tmp.write_text(eligible["model"].iloc[0] + "\n")
    leaders = eligible.groupby("target", sort=False)["model"].first().to_dict()
    with atomic_path(best_by_target_path) as tmp:
        tmp.write_text(json.dumps(leaders, indent=1) + "\n")
    return board
