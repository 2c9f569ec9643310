"""Task tables, summary rows (and their hook), sweep groups and plots, from a leaderboard."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthmir.evaluate import summary as sm


def _board() -> pd.DataFrame:
    rows = [
        # rank, model, target, split, twin, valid wrong/clips, test wrong/clips, flags, lr
        (1, "conv_lr-0.01", "family", "", "", 3, 394, 2, 394, "not converged", 0.01),
        (2, "conv_lr-0.001", "family", "", "", 4, 394, 5, 394, "", 0.001),
        (3, "conv_lr-0.1", "family", "", "", 6, 394, 8, 394, "collapsed", 0.1),
        (1, "harmony", "pitch_classes", "", "", 0, 100, 1, 100, "", None),
        (2, "chroma", "pitch_classes", "", "", 20, 100, 25, 100, "not trained", None),
        (None, "harmony_heldout", "pitch_classes", "holdout_soundfonts-t", "harmony", 0, 40,
         9, 60, "", None),
        (None, "orphan", "pitch_classes", "holdout_soundfonts-t", "", 1, 40, 2, 60, "", None),
    ]
    board = pd.DataFrame(rows, columns=[
        "rank", "model", "target", "split", "twin", "valid_wrong", "valid_clips", "test_wrong",
        "test_clips", "flags", "sweep:training.learning_rate"])
    board[["split", "twin", "flags"]] = board[["split", "twin", "flags"]].replace("", np.nan)
    return board.assign(dataset="d", architecture="a", test_log_loss=0.1, test_f1_micro=0.9,
                        parameters=10, train_seconds=1.0, epochs=3, best_epoch=3,
                        epoch_limit=3)


def test_error_cell_carries_the_wilson_interval():
    cell = sm.error_cell(3, 394)
    assert cell["value"] == pytest.approx(3 / 394) and cell["wrong"] == 3
    assert cell["low"] < cell["value"] < cell["high"] < 0.023
    assert sm.error_cell(np.nan, 10) is None and sm.error_cell(0, 0) is None


def test_one_table_per_task_with_held_out_twins_beside_their_model():
    tables = sm.task_tables(_board())
    assert [t["title"] for t in tables] == ["Instrument family", "Harmony (pitch classes)"]
    family, harmony = tables
    assert [r["model"] for r in family["rows"]] == ["conv_lr-0.01", "conv_lr-0.001",
                                                    "conv_lr-0.1"]
    assert family["sweeps"] == ["training.learning_rate"] and not family["multilabel"]
    assert [r["model"] for r in harmony["rows"]] == ["harmony", "harmony_heldout", "chroma",
                                                     "orphan"]
    heldout = harmony["rows"][1]
    assert heldout["rank"] is None and heldout["twin"] == "harmony"
    assert harmony["rows"][3]["twin"] is None  # no in-split twin: after the ranking
    assert harmony["rows"][2]["flags"] == ["not trained"] and harmony["sweeps"] == []
    assert "exact-match" in harmony["metric"] and "1 − accuracy" in family["metric"]


def test_summary_rows_best_runner_up_and_generalization_grouped_by_task(tmp_path):
    rows = sm.summary_rows(_board(), root=tmp_path)
    assert [(r["task"][:4], r["what"], r["model"]) for r in rows] == [
        ("Inst", "best", "conv_lr-0.01"), ("Inst", "runner-up", "conv_lr-0.001"),
        ("Harm", "best", "harmony"), ("Harm", "runner-up", "chroma"),
        ("Harm", "held-out split", "harmony_heldout")]
    assert [r["first"] for r in rows] == [True, False, True, False, False]
    assert rows[0]["figure"]["wrong"] == 2 and rows[0]["metric"] == "test error"
    assert rows[0]["flags"] == ["not converged"]
    assert "in-split twin harmony: 1.0%" in rows[4]["note"]


def test_a_new_summary_row_is_one_function(monkeypatch, tmp_path):
    def external(board, root):
        return [sm.summary_row("Instrument family", "real recordings", "conv_lr-0.01",
                               sm.error_cell(30, 100), "error on realdev")]

    monkeypatch.setattr(sm, "SUMMARY_ROWS", [*sm.SUMMARY_ROWS, external])
    rows = sm.summary_rows(_board(), root=tmp_path)
    assert [r["what"] for r in rows[:3]] == ["best", "runner-up", "real recordings"]


def test_the_best_instrument_models_recordings_are_summarised(tmp_path):
    (tmp_path / "results").mkdir()
    entry = {"evaluation": "solos", "model": "conv_lr-0.01", "files": 40, "accuracy": 0.75,
             "balanced_accuracy": 0.7, "per_class": {"piano": {}, "brass": {}}}
    other = {**entry, "model": "conv_lr-0.001", "accuracy": 0.1}
    (tmp_path / "results/generalization.json").write_text(
        json.dumps({"leave_one_out": [], "external": [entry, other]}))
    (row,) = [r for r in sm.summary_rows(_board(), root=tmp_path)
              if r["what"] == "recordings: solos"]
    assert row["model"] == "conv_lr-0.01" and row["figure"]["wrong"] == 10
    assert "balanced accuracy 70.0% over 2 classes, 40 recordings" in row["note"]


def test_the_best_harmony_model_on_each_music_set_is_summarised(tmp_path):
    (tmp_path / "results").mkdir()

    def music(model, exact):
        return {"evaluation": "corpus", "model": model, "column": "pitch_classes", "files": 3,
                "hops": {"0.1": {"frames": 400, "f1": 0.9, "exact": 0.6},
                         "0.25": {"frames": 400, "f1": 0.85, "exact": exact}}}

    (tmp_path / "results/generalization.json").write_text(json.dumps(
        {"leave_one_out": [], "external": [music("harmony", 0.4), music("frames", 0.55)]}))
    (row,) = [r for r in sm.summary_rows(_board(), root=tmp_path) if r["what"] == "music: corpus"]
    assert row["model"] == "frames" and row["figure"]["wrong"] == 180
    assert row["task"] == "Harmony (pitch classes)" and "hop 0.25 s" in row["metric"]
    assert row["note"] == "frame F1 0.850; hop 0.1 s: exact-match error 40.0%, F1 0.900"


def test_sweep_groups_and_plots():
    models = {f"conv_learning_rate-{v}": {"swept": {"training.learning_rate": v}}
              for v in (0.01, 0.001, 0.1)}
    models["alone_seed-1"] = {"swept": {"training.seed": 1}}
    assert sm.sweep_groups(models) == {"conv": list(models)[:3]}
    board = _board()
    board["model"] = board["model"].str.replace("lr-", "learning_rate-")
    uris = []
    plots = sm.sweep_plots(board, models, lambda fig: uris.append(fig) or "data:x")
    assert list(plots) == ["family"] and plots["family"][0]["uri"] == "data:x"
    ax = uris[0].axes[0]
    assert ax.get_xscale() == "log"  # 0.001 .. 0.1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.001", "0.01", "0.1"]
