"""synthmir.harmony and `synthmir predict --midi`: thresholds, chord names, run merging, MIDI.

Unit tests run on synthetic probability sequences; the end-to-end test renders a known chord
progression with FluidSynth and transcribes it with a harmony model trained by the workflow
on tests/config_tiny_chords.yaml (the ``chords_run`` fixture, shared with test_listen.py).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import mido
import numpy as np
import pytest

from synthmir import cli
from synthmir.errors import SynthmirError
from synthmir.harmony import (
    Segment,
    chord_name,
    decide,
    merge_runs,
    pitch_class_names,
    read_timeline_midi,
    timeline_midi,
    tune_threshold,
    write_timeline_csv,
    write_timeline_midi,
)
from tests.harmony_fixtures import PROGRESSION, STEP_SECONDS

# ---------------------------------------------------------------------------- thresholds


def _labels(*sets: tuple[int, ...]) -> np.ndarray:
    y = np.zeros((len(sets), 12), dtype=np.int8)
    for row, pcs in zip(y, sets, strict=True):
        row[list(pcs)] = 1
    return y


def test_tune_threshold_finds_the_gap_between_present_and_absent():
    y = _labels((0, 4, 7), (2, 5, 9), (7, 11, 2, 5))
    # present outputs sit at 0.3-0.4, absent ones at 0.1-0.2: 0.5 would miss every note
    rng = np.random.default_rng(0)
    p = np.where(y, rng.uniform(0.3, 0.4, y.shape), rng.uniform(0.1, 0.2, y.shape))
    t = tune_threshold(y, p)
    assert isinstance(t, float) and 0.2 < t <= 0.3  # middle of the gap, about 0.25
    assert (decide(p, t) == y.astype(bool)).all()


def test_tune_threshold_keeps_the_midpoint_when_everything_is_right():
    y = _labels((0, 4, 7), (9, 0, 4))
    p = np.where(y, 0.99, 0.01)
    assert tune_threshold(y, p) == pytest.approx(0.5, abs=0.02)


def test_tune_threshold_per_class_fixes_one_miscalibrated_output():
    y = _labels((0, 4, 7), (2, 7, 11), (0, 5, 9), (4, 7, 11))
    p = np.where(y, 0.9, 0.1)
    p[:, 7] = np.where(y[:, 7], 0.08, 0.02)  # G is always under-confident
    assert (decide(p, tune_threshold(y, p)) != y.astype(bool)).any()
    per_class = tune_threshold(y, p, mode="per_class")
    assert len(per_class) == 12 and per_class[7] <= 0.08
    assert (decide(p, per_class) == y.astype(bool)).all()


@pytest.mark.parametrize(("y", "p", "mode"), [
    (np.zeros((0, 12)), np.zeros((0, 12)), "global"),
    (np.zeros((3, 12)), np.zeros((3, 11)), "global"),
    (np.zeros((3, 12)), np.zeros((3, 12)), "median"),
])
def test_tune_threshold_rejects_bad_input(y, p, mode):
    with pytest.raises(SynthmirError):
        tune_threshold(y, p, mode=mode)


# ---------------------------------------------------------------------------------- names


@pytest.mark.parametrize(("pcs", "name"), [
    ((0, 4, 7), "C"), ((9, 0, 4), "Am"), ((5, 9, 0), "F"), ((7, 11, 2, 5), "G7"),
    ((11, 2, 5, 9), "Bø7"), ((2,), "D"), ((), ""), ((0, 1, 2, 3), ""),
])
def test_chord_name(pcs, name):
    assert chord_name(pcs) == name


def test_pitch_class_names_sorts():
    assert pitch_class_names((7, 0, 4)) == "C E G"
    assert pitch_class_names(()) == ""


# ----------------------------------------------------------------------------- run merging


def test_merge_runs_joins_equal_neighbours_and_keeps_gaps():
    sets = [(0, 4, 7)] * 3 + [()] + [(9, 0, 4)] * 2 + [(0, 4, 7)]
    active = _labels(*sets).astype(bool)
    starts = np.arange(len(sets)) * 0.5
    segments = merge_runs(active, starts, starts + 0.5)
    assert segments == [
        Segment(0.0, 1.5, (0, 4, 7)), Segment(1.5, 2.0, ()),
        Segment(2.0, 3.0, (0, 4, 9)), Segment(3.0, 3.5, (0, 4, 7)),
    ]
    assert [s.name for s in segments] == ["C", "", "Am", "C"]


def test_merge_runs_single_window_and_last_short_hop():
    segments = merge_runs(_labels((2, 6, 9)).astype(bool), [0.0], [0.3])
    assert segments == [Segment(0.0, 0.3, (2, 6, 9))]


@pytest.mark.parametrize(("active", "n_times"), [(np.zeros((3, 11), bool), 3),
                                                 (np.zeros((3, 12), bool), 2)])
def test_merge_runs_rejects_mismatched_input(active, n_times):
    with pytest.raises(SynthmirError):
        merge_runs(active, np.zeros(n_times), np.ones(n_times))


def test_probabilities_to_midi_round_trip(tmp_path):
    """Synthetic probabilities through decide, merge_runs and the MIDI writer, and back."""
    sets = [(0, 4, 7)] * 4 + [(0, 4, 9)] * 4 + [()] * 2 + [(7, 11, 2, 5)] * 3
    y = _labels(*sets)
    rng = np.random.default_rng(1)
    p = np.where(y, rng.uniform(0.6, 1.0, y.shape), rng.uniform(0.0, 0.4, y.shape))
    starts = np.arange(len(sets)) * 0.5
    segments = merge_runs(decide(p, 0.5), starts, starts + 0.5)
    write_timeline_midi(segments, tmp_path / "out.mid", octave=3)
    back = read_timeline_midi(tmp_path / "out.mid")
    assert back == [Segment(0.0, 2.0, (0, 4, 7)), Segment(2.0, 4.0, (0, 4, 9)),
                    Segment(5.0, 6.5, (2, 5, 7, 11))]
    notes = sorted({m.note for m in mido.MidiFile(tmp_path / "out.mid")
                    if m.type == "note_on"})
    assert min(notes) >= 48 and max(notes) <= 59  # octave 3: C3 = 48 .. B3 = 59


def test_timeline_midi_restrikes_a_held_pitch_class():
    mid = timeline_midi([Segment(0.0, 1.0, (0, 4, 7)), Segment(1.0, 2.0, (0, 4, 9))])
    events = []
    now = 0
    for msg in mid.tracks[0]:
        now += msg.time
        if msg.type in ("note_on", "note_off"):
            events.append((now, msg.type, msg.note))
    # C4 and E4 are held across the change: each ends before it is struck again
    at_change = [e for e in events if e[0] == 1920]
    assert at_change[:3] == [(1920, "note_off", 60), (1920, "note_off", 64),
                             (1920, "note_off", 67)]
    assert {e[2] for e in at_change if e[1] == "note_on"} == {60, 64, 69}
    assert mid.length == pytest.approx(2.0)


@pytest.mark.parametrize("octave", [-2, 9])
def test_timeline_midi_rejects_octaves_outside_midi(octave):
    with pytest.raises(SynthmirError, match="octave"):
        timeline_midi([Segment(0.0, 1.0, (11,))], octave=octave)


def test_write_timeline_csv(tmp_path):
    write_timeline_csv([Segment(0.0, 2.0, (0, 4, 7)), Segment(2.0, 2.25, ())],
                       tmp_path / "t.csv")
    with open(tmp_path / "t.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {"start": "0.0", "end": "2.0", "pitch_classes": "0 4 7", "notes": "C E G",
         "chord": "C"},
        {"start": "2.0", "end": "2.25", "pitch_classes": "", "notes": "", "chord": ""},
    ]


# ------------------------------------------------- harmony model kinds and their training


def test_octave_fold_maps_bins_to_pitch_classes():
    from synthmir.models import OctaveFold

    x = np.zeros((1, 115), np.float32)
    x[0, 39] = 5.0  # bin 39 is MIDI 60, a C
    x[0, 40 + 12] = 2.0  # MIDI 73, a C#
    folded = np.asarray(OctaveFold(21.0)(x))[0]
    assert folded[0] == 5.0 and folded[1] == 2.0 and not folded[2:].any()
    # three bins a semitone: bin j is MIDI 21 + j / 3, given to the nearest semitone
    fine = np.zeros((1, 345), np.float32)
    fine[0, [117, 118, 119]] = [1.0, 2.0, 4.0]  # MIDI 60, 60.33 (a C), 60.67 (a C#)
    summed = np.asarray(OctaveFold(21.0, 3, "sum")(fine))[0]
    assert summed[0] == 3.0 and summed[1] == 4.0


def test_harmonic_stack_takes_negative_offsets():
    from synthmir.models import HarmonicStack

    x = np.arange(10, dtype=np.float32).reshape(1, 1, 10)
    out = np.asarray(HarmonicStack([-2, 0, 3])(x))[0, 0]
    np.testing.assert_array_equal(out[:, 0], [0, 0, 0, 1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(out[:, 1], np.arange(10))
    np.testing.assert_array_equal(out[:, 2], [3, 4, 5, 6, 7, 8, 9, 0, 0, 0])


def test_chroma_mean_has_no_weights_and_finds_the_loudest_classes():
    from synthmir.models import build_model

    model = build_model({"kind": "chroma_mean"}, (4, 115), 12, multilabel=True)
    assert not model.trainable_weights
    x = np.zeros((1, 4, 115), np.float32)
    x[0, :, [39, 43, 46]] = 0.9  # C4 E4 G4 at -12 dB
    x[0, :, 39 + 12] = 0.5  # C5 much quieter
    chroma = np.asarray(model(x))[0]
    assert chroma.max() == pytest.approx(1.0)
    assert set(np.flatnonzero(chroma > 0.5)) == {0, 4, 7}


@pytest.mark.parametrize(("mode", "frame"), [("middle", 2), ("max_energy", 1)])
def test_funnel_sees_one_frame(mode, frame):
    from synthmir.models import FrameSelect

    x = np.zeros((1, 5, 6), np.float32)
    x[0, 1] = 3.0  # the loudest frame
    x[0, 2] = np.arange(6)
    np.testing.assert_array_equal(np.asarray(FrameSelect(mode)(x))[0], x[0, frame])


def test_pitch_class_kinds_need_pitch_class_targets():
    from synthmir.models import build_model

    with pytest.raises(SynthmirError, match="pitch_classes"):
        build_model({"kind": "pitchfold"}, (8, 48), 3)


def test_pitch_shift_moves_pitch_class_labels_with_the_pitch():
    from synthmir.predictor import Scaler
    from synthmir.train import ClipBatches

    x = np.zeros((32, 2, 40), np.float32)
    x[:, :, [12, 16, 19]] = 1.0  # bins of C E G when bin 0 is a C
    y = np.zeros((32, 12), np.float32)
    y[:, [0, 4, 7]] = 1.0
    batches = ClipBatches(x, np.arange(32), y, 32, Scaler(), seed=2, pitch_shift=3,
                          shift_labels=1)
    xb, yb = batches[0]
    shifts = xb[:, 0].argmax(axis=1) - 12
    assert len(set(shifts)) > 1
    for shift, labels in zip(shifts, yb, strict=True):
        assert set(np.flatnonzero(labels)) == {(0 + shift) % 12, (4 + shift) % 12,
                                               (7 + shift) % 12}


def _pitch_class_data(folder: Path, n: int = 60):
    """Synthetic pitchgrams (6 frames, 115 bins from MIDI 21) of random triads, and splits."""
    import h5py
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 0.2, (n, 6, 115)).astype(np.float32)
    labels = []
    for i in range(n):
        root = int(rng.integers(0, 12))
        pitches = [48 + root, 52 + root, 55 + root]
        x[i, :, [p - 21 for p in pitches]] = 0.9
        labels.append(" ".join(str(p % 12) for p in sorted({p % 12 for p in pitches})))
    ids = np.array([f"c{i:04d}" for i in range(n)])
    with h5py.File(folder / "features.h5", "w") as h5:
        h5["features"] = x
        h5["features"].attrs["sample_rate"] = 44100
        h5["clip_id"] = ids.astype(object)
        h5["labels/pitch_classes"] = np.array(labels, dtype=object)
        h5.attrs.update({"kind": "pitchgram", "bins_per_semitone": 1, "bin_min": -48,
                         "floor_db": -120.0})
    split = np.array(["train", "valid", "test"])[np.arange(n) % 3]
    pd.DataFrame({"clip_id": ids, "split": split}).to_csv(folder / "splits.csv", index=False)
    return folder / "features.h5", folder / "splits.csv"


def test_chroma_mean_trains_for_zero_epochs_and_saves_a_tuned_threshold(tmp_path):
    from synthmir.train import train_model

    data = _pitch_class_data(tmp_path)
    cfg = {"dataset": "d", "features": "pitchgram", "target": "pitch_classes",
           "architecture": {"kind": "chroma_mean"}}
    train_model(*data, cfg, tmp_path / "model", threads=2)
    preprocessing = json.loads((tmp_path / "model" / "preprocessing.json").read_text())
    info = json.loads((tmp_path / "model" / "train.json").read_text())
    history = (tmp_path / "model" / "history.csv").read_text().splitlines()
    # raw features in, no fitting, one evaluation as epoch 0
    assert preprocessing["scaler"]["kind"] == "none"
    assert info["epochs_run"] == 0 and info["best_epoch"] == 0 and info["parameters"] == 0
    assert len(history) == 2 and history[1].startswith("0,")
    # the bumps are at 0.9 over a floor of at most 0.2: a tuned threshold gets every clip
    threshold = preprocessing["threshold"]
    assert isinstance(threshold, float) and 0 < threshold < 1


def test_zero_epochs_leave_a_learnable_model_unfitted(tmp_path):
    from synthmir.train import train_model

    data = _pitch_class_data(tmp_path)
    cfg = {"dataset": "d", "features": "pitchgram", "target": "pitch_classes",
           "architecture": {"kind": "pitchfold", "filters": [4]}, "training": {"epochs": 0}}
    train_model(*data, cfg, tmp_path / "model", threads=2)
    info = json.loads((tmp_path / "model" / "train.json").read_text())
    preprocessing = json.loads((tmp_path / "model" / "preprocessing.json").read_text())
    assert info["epochs_run"] == 0 and info["parameters"] > 0
    assert preprocessing["scaler"]["kind"] == "global"  # it has weights that expect it


def test_training_threshold_settings(tmp_path):
    from synthmir.train import train_model, training_config

    assert training_config({})["threshold"] == "global"
    assert training_config({"threshold": 0.3})["threshold"] == 0.3
    for bad in ("median", 1.5, True):
        with pytest.raises(SynthmirError, match="threshold"):
            training_config({"threshold": bad})
    data = _pitch_class_data(tmp_path)
    cfg = {"dataset": "d", "features": "pitchgram", "target": "pitch_classes",
           "architecture": {"kind": "chroma_mean"}, "training": {"threshold": "per_class"}}
    train_model(*data, cfg, tmp_path / "per_class", threads=2)
    saved = json.loads((tmp_path / "per_class" / "preprocessing.json").read_text())
    assert len(saved["threshold"]) == 12


def test_pitch_class_kinds_need_pitchgram_features(tmp_path):
    import h5py

    from synthmir.train import train_model

    data = _pitch_class_data(tmp_path)
    with h5py.File(data[0], "a") as h5:
        h5.attrs["kind"] = "stft"
    cfg = {"dataset": "d", "features": "stft", "target": "pitch_classes",
           "architecture": {"kind": "pitchfold"}}
    with pytest.raises(SynthmirError, match="pitchgram"):
        train_model(*data, cfg, tmp_path / "model", threads=2)


# ------------------------------------------------------------------ predict --midi, e2e


@pytest.mark.e2e
def test_predict_midi_transcribes_a_rendered_progression(chords_run, progression_wav,
                                                         tmp_path, capsys):
    model = chords_run / "results" / "models" / "tinyharmony"
    out_mid, out_csv = tmp_path / "prog.mid", tmp_path / "prog.csv"
    hop = 0.5
    status = cli.main(["predict", "--task", "harmony", "--model", str(model),
                       str(progression_wav), "--midi", str(out_mid), "--hop", str(hop),
                       "--csv", str(out_csv)])
    assert status == 0, capsys.readouterr().err
    # the last chord's release rings on after its note-off: what starts after the
    # progression's end is not compared
    end = len(PROGRESSION) * STEP_SECONDS
    segments = [s for s in read_timeline_midi(out_mid) if s.pitch_classes and s.start < end]
    # every chord of the progression, in order, each starting and ending within one hop
    assert [s.pitch_classes for s in segments] == [
        tuple(sorted({p % 12 for p in pitches})) for pitches, _ in PROGRESSION
    ]
    for k, seg in enumerate(segments):
        assert seg.start == pytest.approx(k * STEP_SECONDS, abs=hop)
        assert seg.end == pytest.approx((k + 1) * STEP_SECONDS, abs=hop)
    with open(out_csv, newline="") as f:
        named = [r["chord"] for r in csv.DictReader(f)
                 if r["pitch_classes"] and float(r["start"]) < end]
    assert named == [name for _, name in PROGRESSION]


@pytest.mark.e2e
def test_predict_task_must_match_the_model(chords_run, progression_wav, capsys):
    model = chords_run / "results" / "models" / "tinyharmony"
    status = cli.main(["predict", "--task", "instrument", "--model", str(model),
                       str(progression_wav)])
    assert status == 2
    assert "predicts pitch_classes, not the instrument task" in capsys.readouterr().err


@pytest.mark.e2e
def test_predict_midi_picks_the_best_harmony_model(chords_run, progression_wav, tmp_path,
                                                   monkeypatch, capsys):
    monkeypatch.chdir(chords_run)
    status = cli.main(["predict", str(progression_wav), "--hop", "1.0", "--json"])
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "tinyharmony" and result["segments"]
