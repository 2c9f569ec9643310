"""The leaderboard's order, its held-out twins, the flags, and its files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from synthmir.errors import SynthmirError
from synthmir.evaluate import leaderboard as lb


def _board(rows, target="family"):
    board = pd.DataFrame(rows, columns=["model", "valid_error", "valid_log_loss"])
    return board.assign(target=target, split="")


def test_rank_models_by_valid_error_then_log_loss_then_id():
    board = _board([("m_high_loss", 0.1, 0.9), ("m_worse", 0.2, 0.1), ("z_tie", 0.1, 0.5),
                    ("a_tie", 0.1, 0.5), ("m_no_loss", 0.1, None), ("m_no_valid", None, None)])
    ranked = lb.rank_models(board)
    assert ranked["model"].tolist() == ["a_tie", "z_tie", "m_high_loss", "m_no_loss", "m_worse",
                                        "m_no_valid"]
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5, 6]


def test_instrument_models_rank_above_harmony_models_whatever_their_error():
    board = pd.concat([_board([("chords", 0.01, 0.1)], target="pitch_classes"),
                       _board([("notes_b", 0.3, 0.9), ("notes_a", 0.2, 0.9)])])
    ranked = lb.rank_models(board)
    assert ranked["model"].tolist() == ["notes_a", "notes_b", "chords"]
    assert ranked["rank"].tolist() == [1, 2, 1]


def test_models_on_another_split_are_not_ranked():
    board = _board([("harmony", 0.1, 0.5), ("harmony_heldout", 0.0, 0.1), ("other", 0.2, 0.5)],
                   target="pitch_classes")
    board.loc[1, "split"] = "holdout_soundfonts-x"
    ranked = lb.rank_models(board)
    assert ranked["model"].tolist() == ["harmony", "other", "harmony_heldout"]
    assert ranked["rank"].tolist()[:2] == [1, 2] and pd.isna(ranked["rank"].iloc[2])


def test_twin_is_the_same_entry_without_the_split_override():
    entry = {"dataset": "d", "features": "f", "training": {"epochs": 3}}
    models = {"a": entry, "b": {**entry, "training": {"epochs": 4}},
              "a_heldout": {**entry, "split": {"holdout_soundfonts": ["x"]},
                            "split_scheme": "holdout_soundfonts-x"},
              "lonely": {**entry, "features": "g", "split": {"holdout_soundfonts": ["x"]},
                         "split_scheme": "holdout_soundfonts-x"}}
    assert lb.twin_of("a_heldout", models) == "a"
    assert lb.twin_of("a", models) is None and lb.twin_of("lonely", models) is None
    # a variant of a sweep over the split (leave one sound font out) records what it swept
    models["a_lofo_x"] = {**models["a_heldout"], "swept": {"split.holdout_soundfonts": ["x"]}}
    assert lb.twin_of("a_lofo_x", models) == "a"


def test_flags():
    def flags(epochs_run, best, limit, shares=(0.3, 0.4)):
        train = {"epochs_run": epochs_run, "best_epoch": best, "training": {"epochs": limit}}
        split = {"top_prediction_share": shares[0], "top_truth_share": shares[1]}
        return lb.model_flags(train, {"splits": {"train": {"top_prediction_share": 1.0,
                                                           "top_truth_share": 0.1},
                                                 "valid": split, "test": split}})

    assert flags(10, 6, 30) == []
    assert flags(30, 30, 30) == ["not converged"]
    assert flags(0, 0, 0) == ["not trained"]
    assert flags(10, 6, 30, shares=(0.97, 0.2)) == ["collapsed"]
    # A split whose truth is one class does not make a model that says so "collapsed".
    assert flags(10, 6, 30, shares=(1.0, 1.0)) == []


def _fake_model(folder, valid_error, valid_log_loss, test_error=0.3, wall=12.5, epochs=3,
                target="family"):
    (folder / "evaluation").mkdir(parents=True)
    splits = {"valid": {"error": valid_error, "log_loss": valid_log_loss, "clips": 10,
                        "wrong": round(10 * valid_error)},
              "test": {"error": test_error, "log_loss": 0.8, "clips": 20,
                       "wrong": round(20 * test_error)}}
    (folder / "evaluation" / "metrics.json").write_text(
        json.dumps({"target": target, "splits": splits}))
    (folder / "train.json").write_text(json.dumps(
        {"parameters": 1234, "wall_time_s": wall, "epochs_run": epochs, "best_epoch": epochs,
         "training": {"epochs": 3}}))


def test_write_leaderboard_ranks_and_names_the_best(tmp_path):
    entry = {"dataset": "d", "features": "f", "architecture": {"kind": "pitchconv"}}
    models = {"m_lr-0.1": {**entry, "swept": {"training.learning_rate": 0.1}},
              "m_lr-0.01": {**entry, "swept": {"training.learning_rate": 0.01}},
              "m_held": {**entry, "split": {"holdout_soundfonts": ["x"]},
                         "split_scheme": "holdout_soundfonts-x"}}
    _fake_model(tmp_path / "models" / "m_lr-0.1", 0.2, 0.9, epochs=2)
    _fake_model(tmp_path / "models" / "m_lr-0.01", 0.2, 0.5, test_error=0.25)
    _fake_model(tmp_path / "models" / "m_held", 0.0, 0.1)  # best figures, another split
    board = lb.write_leaderboard(models, str(tmp_path / "models"), str(tmp_path / "lb.csv"),
                                 str(tmp_path / "best_model"), str(tmp_path / "best.json"))
    assert board["model"].tolist() == ["m_lr-0.01", "m_lr-0.1", "m_held"]
    assert (tmp_path / "best_model").read_text() == "m_lr-0.01\n"
    assert json.loads((tmp_path / "best.json").read_text()) == {"family": "m_lr-0.01"}
    written = pd.read_csv(tmp_path / "lb.csv")
    for column in ("rank", "valid_error", "valid_wrong", "valid_clips", "valid_log_loss",
                   "test_error", "test_log_loss", "parameters", "train_seconds", "split",
                   "twin", "flags", "sweep:training.learning_rate"):
        assert column in written
    assert "valid_auc" not in written
    assert written.loc[0, "sweep:training.learning_rate"] == 0.01
    assert written.loc[0, "test_error"] == 0.25 and written.loc[0, "test_wrong"] == 5
    assert written.loc[0, "flags"] == "not converged" and pd.isna(written.loc[1, "flags"])
    assert pd.isna(written.loc[2, "rank"]) and written.loc[2, "split"] == "holdout_soundfonts-x"
    with pytest.raises(SynthmirError, match="no models"):
        lb.write_leaderboard({}, str(tmp_path), str(tmp_path / "x.csv"), str(tmp_path / "b"),
                             str(tmp_path / "j"))
    with pytest.raises(SynthmirError, match="none can be ranked"):
        lb.write_leaderboard({"m_held": models["m_held"]}, str(tmp_path / "models"),
                             str(tmp_path / "x.csv"), str(tmp_path / "b"), str(tmp_path / "j"))


def test_harmony_models_scored_on_music_rank_by_their_exact_match_there(tmp_path):
    """Valid errors on random chords and on music frames do not compare: the model that
    names music best leads, and ``predict --task harmony`` uses it."""
    entry = {"features": "f", "target": "pitch_classes"}
    models = {"chords": {**entry, "dataset": "chords"}, "frames": {**entry, "dataset": "music"},
              "notes": {"dataset": "d", "features": "f", "target": "family"}}
    _fake_model(tmp_path / "models" / "chords", 0.01, 0.1, target="pitch_classes")
    _fake_model(tmp_path / "models" / "frames", 0.42, 0.3, target="pitch_classes")
    _fake_model(tmp_path / "models" / "notes", 0.2, 0.5)
    music = []
    for model, exact in (("chords", (0.29, 0.0)), ("frames", (0.72, 0.70))):
        path = tmp_path / f"{model}_corpus.json"
        path.write_text(json.dumps({"evaluation": "corpus", "model": model, "hops": {
            "0.25": {"exact": exact[0], "f1": 0.9}, "0.1": {"exact": exact[1], "f1": 0.9}}}))
        music.append(str(path))
    solos = tmp_path / "notes_solos.json"  # an instrument set has no hops: not music
    solos.write_text(json.dumps({"evaluation": "solos", "model": "notes", "accuracy": 0.5}))
    assert lb.music_exact([*music, str(solos)]) == {"chords": 0.145, "frames": 0.71}

    args = (models, str(tmp_path / "models"), str(tmp_path / "lb.csv"),
            str(tmp_path / "best_model"), str(tmp_path / "best.json"))
    board = lb.write_leaderboard(*args, music=[*music, str(solos)])
    assert board["model"].tolist() == ["notes", "frames", "chords"]
    assert json.loads((tmp_path / "best.json").read_text()) == {"family": "notes",
                                                               "pitch_classes": "frames"}
    assert pd.read_csv(tmp_path / "lb.csv")["music_exact"].tolist()[1:] == [0.71, 0.145]
    # without music the valid errors decide, as for any task
    lb.write_leaderboard(*args)
    assert json.loads((tmp_path / "best.json").read_text())["pitch_classes"] == "chords"
