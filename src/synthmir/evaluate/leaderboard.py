"""The leaderboard: models ranked within their task, and the leader of each.

Models are ranked by valid error; harmony models scored on music (config ``evaluations``
with column pitch_classes) are ranked by their exact match there first. Their valid errors
are on their own datasets (random chords, generated music) and do not compare: the default
config's pitchfold had 0.9% valid error on chords and framefold 42% on music frames, yet on
corpus music framefold scored exact 0.720 and pitchfold 0.288 (hop 0.25), so ranking by valid
error sent ``predict --task harmony`` and the web page to the model that fails on music.

Models trained on a split override (``split: {holdout_soundfonts: [...]}``) are tested on
other clips than their task's ranking, so they are listed but not ranked: each names its
in-split *twin* (the same entry without the override), beside which the report shows it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from synthmir.errors import SynthmirError
from synthmir.layout import METRICS_JSON, TRAIN_JSON, atomic_path

# Instrument models first: `best_model` (what `synthmir predict` uses) names an instrument model
# whenever one exists; harmony models are ranked among themselves below them.
TARGET_ORDER = {"family": 0, "program": 1, "pitch_classes": 2}
# A model "collapsed" when this share of the held-out clips get its most common answer,
# while the truth's most common answer is rarer than that.
COLLAPSED_SHARE = 0.9
# Keys of a model entry that do not make it another model than its twin (a sweep variant's
# `swept` only records values that the entry itself holds).
_SPLIT_KEYS = ("split", "split_scheme", "swept")


def twin_of(model_id: str, models: dict[str, dict]) -> str | None:
    """The in-split model whose entry equals ``model_id``'s but for the split override.

    None for a model without an override, or when no model matches.
    """
    entry = models[model_id]
    if "split_scheme" not in entry:
        return None

    def core(e: dict) -> dict:
        return {k: v for k, v in e.items() if k not in _SPLIT_KEYS}

    return next((other for other, e in models.items()
                 if "split_scheme" not in e and core(e) == core(entry)), None)


def model_flags(train: dict, result: dict) -> list[str]:
    """What a reader should know before trusting a model's figures.

    - ``not trained``: no epoch ran (a non-learned baseline, or ``epochs: 0``);
    - ``not converged``: the kept weights are from the last epoch allowed, so the model was
      still improving when training stopped;
    - ``collapsed``: (nearly) every held-out clip gets the same answer (see
      :data:`COLLAPSED_SHARE`).
    """
    flags = []
    limit = train.get("training", {}).get("epochs")
    if not train.get("epochs_run"):
        flags.append("not trained")
    elif limit and train.get("best_epoch") == limit:
        flags.append("not converged")
    held_out = [s for name, s in result["splits"].items() if name != "train"]
    if any(s.get("top_prediction_share", 0) >= COLLAPSED_SHARE > s.get("top_truth_share", 1)
           for s in held_out):
        flags.append("collapsed")
    return flags


def music_exact(paths: list[str]) -> dict[str, float]:
    """Model id -> its exact match on music: the mean over the music sets (results of
    ``evaluate_external`` with per-hop scores) and their hops, from ``paths``."""
    scores: dict[str, list[float]] = {}
    for path in paths:
        result = json.loads(Path(path).read_text())
        for hop in result.get("hops", {}).values():
            scores.setdefault(result["model"], []).append(hop["exact"])
    return {model: round(float(np.mean(v)), 4) for model, v in scores.items()}


def rank_models(board: pd.DataFrame) -> pd.DataFrame:
    """Order by target, then music exact match (higher first, when a model has one), then
    valid error, then valid log loss, then model id.

    ``rank`` counts within each target, over the models on their dataset's own split; models
    with a split override (non-empty ``split``) follow their target's ranking, unranked. A
    missing error or log loss (a split without clips) ranks after any value.
    """
    heldout = board["split"].fillna("").astype(str) != "" if "split" in board else False
    music = -board["music_exact"] if "music_exact" in board else np.nan
    order = board.assign(_heldout=heldout, _music=music,
                         _target=board["target"].map(TARGET_ORDER).fillna(len(TARGET_ORDER)))
    order = order.sort_values(
        ["_target", "_heldout", "_music", "valid_error", "valid_log_loss", "model"],
        na_position="last", kind="stable")
    ranked = order.drop(columns=["_heldout", "_target", "_music"]).reset_index(drop=True)
    ranks = ranked[~order["_heldout"].to_numpy()].groupby("target", sort=False).cumcount() + 1
    ranked.insert(0, "rank", ranks.astype("Int64"))
    return ranked


def _split_columns(result: dict, split: str) -> dict:
    s = result["splits"].get(split, {})
    return {f"{split}_clips": s.get("clips"), f"{split}_wrong": s.get("wrong"),
            f"{split}_error": s.get("error"), f"{split}_log_loss": s.get("log_loss")}


def write_leaderboard(models: dict[str, dict], models_dir: str, out_csv: str, best_path: str,
                      best_by_target_path: str, music: list[str] = ()) -> pd.DataFrame:
    """Rank the models of each target; write the table and the leader's id.

    Parameters
    ----------
    models : dict
        Model id -> its config entry (``swept`` holds the values a sweep set,
        ``split_scheme`` names a split override).
    models_dir : str
        results/models, holding {model}/evaluation/metrics.json and {model}/train.json.
    out_csv, best_path : str
        results/leaderboard.csv and results/best_model (read by ``synthmir predict``).
    best_by_target_path : str
        results/best_models.json: the leader of each target (``predict --task harmony``).
    music : list of str
        ``evaluate_external`` results of the harmony models (see :func:`music_exact`).
    """
    if not models:
        raise SynthmirError("no models in the config: add an entry under `models:`")
    on_music = music_exact(list(music))
    rows = []
    for model_id, entry in models.items():
        folder = Path(models_dir) / model_id
        result = json.loads((folder / METRICS_JSON).read_text())
        train = json.loads((folder / TRAIN_JSON).read_text())
        rows.append({
            "model": model_id,
            "target": result["target"],
            "dataset": entry["dataset"],
            "features": entry["features"],
            "architecture": entry.get("architecture", {}).get("kind", ""),
            "split": entry.get("split_scheme", ""),
            "twin": twin_of(model_id, models) or "",
            **_split_columns(result, "valid"),
            **_split_columns(result, "test"),
            "test_f1_micro": result["splits"].get("test", {}).get("f1_micro"),
            "music_exact": on_music.get(model_id, np.nan),
            "parameters": train.get("parameters"),
            "train_seconds": train.get("wall_time_s"),
            "epochs": train.get("epochs_run"),
            "best_epoch": train.get("best_epoch"),
            "epoch_limit": train.get("training", {}).get("epochs"),
            "flags": "; ".join(model_flags(train, result)),
            **{f"sweep:{k}": v for k, v in entry.get("swept", {}).items()},
        })
    board = rank_models(pd.DataFrame(rows))
    ranked = board[board["rank"].notna()]
    if ranked.empty:
        raise SynthmirError("every model has a split override, so none can be ranked: add "
                            "one without `split:` to compare them against")
    with atomic_path(out_csv) as tmp:
        board.to_csv(tmp, index=False)
    with atomic_path(best_path) as tmp:
        tmp.write_text(ranked["model"].iloc[0] + "\n")
    leaders = ranked.groupby("target", sort=False)["model"].first().to_dict()
    with atomic_path(best_by_target_path) as tmp:
        tmp.write_text(json.dumps(leaders, indent=1) + "\n")
    return board
