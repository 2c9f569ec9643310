"""Frame-level harmony end to end (tests/config_tiny_chords.yaml): music clips with frame
labels, a framefold model trained on them, the corpus set scored frame by frame, and
`predict --hop` with both kinds of harmony model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthmir import cli
from synthmir.features.store import FeatureStore

pytestmark = pytest.mark.e2e


def test_music_features_hold_frame_labels(chords_run):
    with FeatureStore(chords_run / "data" / "tinymusic" / "features" / "pitchgram.h5") as store:
        labels = store.frame_labels
        assert labels.shape == (24, store.shape[1], 12)
        assert 1.5 < labels.sum(axis=2).mean() < 4  # two or three voices sound most frames


def test_every_harmony_model_is_scored_on_music_frame_by_frame(chords_run):
    result = json.loads((chords_run / "results" / "generalization.json").read_text())
    music = {e["model"]: e for e in result["external"] if e["evaluation"] == "tinycorpus"}
    assert set(music) == {"tinyharmony", "tinyframes"}
    for entry in music.values():
        assert set(entry["hops"]) == {"0.25", "0.1"}
        for scores in entry["hops"].values():
            assert scores["frames"] > 50 and 0 <= scores["f1"] <= 1
            assert "top_only" in scores["breakdown_recall"]
    # the harmony leader is the better one on music (valid errors on chords and on music
    # frames do not compare)
    board = pd.read_csv(chords_run / "results" / "leaderboard.csv").set_index("model")
    exact = {m: np.mean([s["exact"] for s in music[m]["hops"].values()]) for m in music}
    for model, value in exact.items():
        assert board.loc[model, "music_exact"] == pytest.approx(value, abs=1e-4)
    leader = json.loads((chords_run / "results" / "best_models.json").read_text())
    assert exact[leader["pitch_classes"]] == max(exact.values())
    train = json.loads((chords_run / "results" / "models" / "tinyframes" / "train.json")
                       .read_text())
    assert train["architecture"]["kind"] == "framefold"


def test_predict_warns_when_the_hop_is_below_what_the_model_decides(chords_run,
                                                                    progression_wav, capsys):
    models = chords_run / "results" / "models"
    assert cli.main(["predict", "--model", str(models / "tinyharmony"), str(progression_wav),
                     "--hop", "0.1"]) == 0
    assert "below what model tinyharmony can decide" in capsys.readouterr().err
    # a frame-level model decides every 11.6-ms frame: no warning at hop 0.05, and it keeps
    # changes of a hop (4 frames; the first frame is cut at 0 s)
    assert cli.main(["predict", "--model", str(models / "tinyframes"), str(progression_wav),
                     "--hop", "0.05", "--json"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    segments = json.loads(captured.out)["segments"]
    assert segments and all(s["end"] - s["start"] >= 3.5 * 0.0116 - 1e-3 for s in segments)
    assert all(a["end"] == b["start"] for a, b in zip(segments, segments[1:], strict=False))
