"""Scoring an external evaluation set."""

import pandas as pd
import pytest

from synthmir.errors import SynthmirError
from synthmir.evaluate.external import read_labels, score


def test_balanced_accuracy_is_the_mean_recall_over_present_classes():
    true = ["piano"] * 4 + ["brass"] * 2
    predicted = ["piano", "piano", "piano", "organ", "organ", "brass"]
    result = score(true, predicted, ["brass", "organ", "piano"])
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["balanced_accuracy"] == pytest.approx((0.75 + 0.5) / 2)
    assert result["confusion"]["true"] == ["brass", "piano"]
    assert result["confusion"]["counts"] == [[1, 1, 0], [0, 1, 3]]


def test_labels_tables_are_checked(tmp_path):
    with pytest.raises(SynthmirError, match="no labels table"):
        read_labels(tmp_path, "labels.csv", "family")
    pd.DataFrame({"file": ["a.wav"], "instrument": ["x"]}).to_csv(tmp_path / "labels.csv",
                                                                   index=False)
    with pytest.raises(SynthmirError, match="family"):
        read_labels(tmp_path, "labels.csv", "family")
    pd.DataFrame({"file": ["a.wav"], "family": ["piano"]}).to_csv(tmp_path / "labels.csv",
                                                                  index=False)
    with pytest.raises(SynthmirError, match="a.wav"):
        read_labels(tmp_path, "labels.csv", "family")


def test_a_folder_of_music_with_midi_scores_a_harmony_model_frame_by_frame(tmp_path):
    """The folder route of a harmony evaluation set: audio files, their MIDI files and a
    labels table with file and midi columns (here: sine chords and a 0-epoch chroma model)."""
    import json

    import numpy as np
    import soundfile as sf

    from synthmir.data.midi import Note, clip_midi, write_midi
    from synthmir.evaluate.external import evaluate_external
    from synthmir.features.store import extract_shard
    from synthmir.learn.train import train_model

    rate, seconds = 22050, 2.0
    t = np.arange(int(rate * seconds)) / rate
    chords = {"c.wav": (60, 64, 67), "a.wav": (57, 60, 64)}
    for name, pitches in chords.items():
        audio = sum(np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) for p in pitches)
        audio[t >= 1.5] = 0.0  # the chord ends at 1.5 s
        sf.write(tmp_path / name, (0.2 * audio).astype(np.float32), rate)
        write_midi(clip_midi([Note(0, p, 90, 0.0, 1.5) for p in pitches], seconds),
                   tmp_path / name.replace(".wav", ".mid"))
    pd.DataFrame({"file": list(chords), "midi": [n.replace(".wav", ".mid") for n in chords]}
                 ).to_csv(tmp_path / "labels.csv", index=False)
    # a chroma model whose features are those of the files themselves (no training)
    manifest = pd.DataFrame({"clip_id": ["c", "a"], "file": list(chords),
                             "pitch_classes": ["0 4 7", "0 4 9"]})
    manifest.to_csv(tmp_path / "clips.csv", index=False)
    extract_shard(str(tmp_path / "clips.csv"), str(tmp_path), str(tmp_path / "f.h5"),
                  {"kind": "pitchgram"})
    pd.DataFrame({"clip_id": ["c", "a"], "split": ["train", "valid"]}).to_csv(
        tmp_path / "splits.csv", index=False)
    train_model(tmp_path / "f.h5", tmp_path / "splits.csv",
                {"dataset": "d", "features": "pitchgram", "target": "pitch_classes",
                 "architecture": {"kind": "chroma_mean"}}, tmp_path / "chroma", threads=1)
    result = evaluate_external(str(tmp_path / "chroma"), "sines", str(tmp_path), "labels.csv",
                               "pitch_classes", str(tmp_path / "out.json"),
                               str(tmp_path / "out.csv"))
    assert result["files"] == 2 and set(result["hops"]) == {"0.25", "0.1"}
    for scores in result["hops"].values():
        assert scores["frames"] == 2 * 30  # 50-ms frames while the chords sound
        assert scores["f1"] > 0.9 and scores["hop_limit"]["exact"] == 1.0
    assert json.loads((tmp_path / "out.json").read_text())["hops"] == result["hops"]
    rows = pd.read_csv(tmp_path / "out.csv")
    assert sorted(rows["file"]) == ["a.wav", "a.wav", "c.wav", "c.wav"]
