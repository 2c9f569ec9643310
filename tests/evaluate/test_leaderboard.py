"""The leaderboard's order and files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from synthmir.errors import SynthmirError
from synthmir.evaluate import leaderboard as lb


def _board(rows, target="family"):
    board = pd.DataFrame(rows, columns=["model", "valid_error", "valid_auc"])
    return board.assign(target=target)


def test_rank_models_by_valid_error_then_auc_then_id():
    board = _board([("m_low_auc", 0.1, 0.80), ("m_worse", 0.2, 0.99), ("z_tie", 0.1, 0.90),
                    ("a_tie", 0.1, 0.90), ("m_no_auc", 0.1, None), ("m_no_valid", None, None)])
    ranked = lb.rank_models(board)
    assert ranked["model"].tolist() == ["a_tie", "z_tie", "m_low_auc", "m_no_auc", "m_worse",
                                        "m_no_valid"]
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5, 6]


def test_instrument_models_rank_above_harmony_models_whatever_their_error():
    board = pd.concat([_board([("chords", 0.01, 0.99)], target="pitch_classes"),
                       _board([("notes_b", 0.3, 0.9), ("notes_a", 0.2, 0.9)])])
    ranked = lb.rank_models(board)
    assert ranked["model"].tolist() == ["notes_a", "notes_b", "chords"]
    assert ranked["rank"].tolist() == [1, 2, 1]


def _fake_model(folder, valid_error, valid_auc, test_error=0.3, wall=12.5):
    (folder / "evaluation").mkdir(parents=True)
    splits = {"valid": {"error": valid_error, "auc_macro": valid_auc},
              "test": {"error": test_error, "auc_macro": 0.8}}
    (folder / "evaluation" / "metrics.json").write_text(
        json.dumps({"target": "family", "splits": splits}))
    (folder / "train.json").write_text(
        json.dumps({"parameters": 1234, "wall_time_s": wall, "epochs_run": 3}))


def test_write_leaderboard_ranks_and_names_the_best(tmp_path):
    entry = {"dataset": "d", "features": "f", "architecture": {"kind": "pitchconv"}}
    models = {"m_lr-0.1": {**entry, "swept": {"training.learning_rate": 0.1}},
              "m_lr-0.01": {**entry, "swept": {"training.learning_rate": 0.01}}}
    _fake_model(tmp_path / "models" / "m_lr-0.1", 0.2, 0.9)
    _fake_model(tmp_path / "models" / "m_lr-0.01", 0.2, 0.95, test_error=0.25)
    board = lb.write_leaderboard(models, str(tmp_path / "models"), str(tmp_path / "lb.csv"),
                                 str(tmp_path / "best_model"), str(tmp_path / "best.json"))
    assert board["model"].tolist() == ["m_lr-0.01", "m_lr-0.1"]
    assert (tmp_path / "best_model").read_text() == "m_lr-0.01\n"
    assert json.loads((tmp_path / "best.json").read_text()) == {"family": "m_lr-0.01"}
    written = pd.read_csv(tmp_path / "lb.csv")
    for column in ("rank", "valid_error", "valid_auc", "test_error", "parameters",
                   "train_seconds", "sweep:training.learning_rate"):
        assert column in written
    assert written.loc[0, "sweep:training.learning_rate"] == 0.01
    assert written.loc[0, "test_error"] == 0.25
    with pytest.raises(SynthmirError, match="no models"):
        lb.write_leaderboard({}, str(tmp_path), str(tmp_path / "x.csv"), str(tmp_path / "b"),
                             str(tmp_path / "j"))
