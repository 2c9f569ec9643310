"""Chord timelines: chord names, run merging, MIDI and CSV output."""

from __future__ import annotations

import csv

import mido
import numpy as np
import pytest

from synthmir.errors import SynthmirError
from synthmir.infer.timeline import (
    Segment,
    chord_name,
    frame_segments,
    merge_runs,
    merge_short_runs,
    music21_chord_name,
    read_timeline_midi,
    timeline_midi,
    write_timeline_csv,
    write_timeline_midi,
)
from synthmir.learn.thresholds import decide
from tests.pitch_classes import labels as _labels


@pytest.mark.parametrize(("pcs", "name"), [
    ((0, 4, 7), "C"), ((9, 0, 4), "Am"), ((5, 9, 0), "F"), ((7, 11, 2, 5), "G7"),
    ((11, 2, 5, 9), "Bø7"), ((2,), "D"), ((), ""), ((0, 1, 2, 3), ""),
])
def test_chord_name(pcs, name):
    assert chord_name(pcs) == name


def test_the_chord_table_names_every_set_as_music21_does():
    # C F B- used to crash the naming ("CsusaddB-,omitG": an omitted note read as an added one)
    sample = [(0, 5, 10), (0, 4, 7, 2, 5), (0, 4, 7, 14, 17), tuple(range(12))]
    rng = np.random.default_rng(3)
    sample += [tuple(rng.choice(12, size, replace=False)) for size in rng.integers(2, 7, 25)]
    for pcs in sample:
        assert chord_name(pcs) == music21_chord_name(frozenset(int(p) % 12 for p in pcs)), pcs
    assert chord_name((0, 5, 10)) == "CsusaddB-,omitG"


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


def _runs(active: np.ndarray) -> list[tuple[tuple[int, ...], int]]:
    """(pitch classes, frames) of each run of equal rows."""
    runs: list[tuple[tuple[int, ...], int]] = []
    for row in active:
        pcs = tuple(int(k) for k in np.flatnonzero(row))
        if runs and runs[-1][0] == pcs:
            runs[-1] = (pcs, runs[-1][1] + 1)
        else:
            runs.append((pcs, 1))
    return runs


def test_merge_short_runs_joins_flicker_to_the_neighbour_it_differs_least_from():
    c, am, flicker, wrong = (0, 4, 7), (0, 4, 9), (0, 2, 4, 7), (0, 2, 4, 9)
    active = _labels(*[c] * 10 + [flicker] * 2 + [c] * 10 + [wrong] + [am] * 8).astype(bool)
    joined = merge_short_runs(active, shortest=4)
    # the D on for 2 frames inside C is dropped; the one wrong frame before Am becomes Am
    assert _runs(joined) == [(c, 22), (am, 9)]
    assert _runs(merge_short_runs(active, shortest=2)) == [(c, 10), (flicker, 2), (c, 10),
                                                           (am, 9)]
    np.testing.assert_array_equal(merge_short_runs(active, shortest=1), active)
    # a run of 3 when runs of 3 are kept: nothing joins
    kept = _labels(*[c] * 3 + [am] * 3).astype(bool)
    np.testing.assert_array_equal(merge_short_runs(kept, shortest=3), kept)


def test_merge_short_runs_ties_go_to_the_longer_neighbour_and_one_run_stays():
    c, e, g = (0,), (4,), (7,)
    active = _labels(*[c] * 3 + [e] + [g] * 6).astype(bool)
    assert _runs(merge_short_runs(active, shortest=3)) == [(c, 3), (g, 7)]
    single = _labels(*[c] * 2).astype(bool)
    np.testing.assert_array_equal(merge_short_runs(single, shortest=5), single)


def test_frame_segments_place_boundaries_at_the_frame_and_keep_what_the_hop_resolves():
    step = 0.0116
    c, am = (0, 4, 7), (0, 4, 9)
    # C for 37 frames, Am for 4 (46 ms), C again for 40, then 3 frames of nothing
    active = _labels(*[c] * 37 + [am] * 4 + [c] * 40 + [()] * 3).astype(bool)
    centres = np.arange(len(active)) * step
    duration = centres[-1] + 0.004
    fine = frame_segments(active, centres, duration, shortest_seconds=0.03)  # >= 3 frames
    assert [s.pitch_classes for s in fine] == [c, am, c, ()]
    assert fine[1].start == pytest.approx(36.5 * step) and fine[1].end == pytest.approx(
        40.5 * step)
    assert fine[0].start == 0 and fine[-1].end == duration
    assert all(a.end == b.start for a, b in zip(fine, fine[1:], strict=False))
    # a change must last 75 ms: the 46-ms Am is flicker
    coarse = frame_segments(active, centres, duration, shortest_seconds=0.075)
    assert [s.pitch_classes for s in coarse] == [c]
    # ... and the 3 silent frames at the end (35 ms) are joined too
    assert coarse[0].end == duration


def test_a_frame_level_timeline_is_not_held_to_the_hop_grid(tmp_path):
    from synthmir.infer.classify import Classifier
    from synthmir.infer.timeline import SHORTEST_CHANGE, shortest_change, transcribe
    from tests.toy_model import SR, make_toy_model, sine

    classifier = Classifier.load(make_toy_model(tmp_path / "toy", frame_level=True))
    assert shortest_change(classifier, 0.25) == SHORTEST_CHANGE
    assert shortest_change(classifier, 0.05) == 0.05
    audio = np.concatenate([sine(0.9, freq=440), np.zeros(SR, np.float32)])
    segments = transcribe(classifier, audio, SR, hop_seconds=0.25)
    assert segments[0].start == 0 and segments[-1].end == pytest.approx(1.9)
    assert segments[0].pitch_classes  # the toy hears something in the sine
    # silence from 0.9 s: the last segment is empty and starts within a frame (46 ms) of it,
    # where one set per 0.25-s hop would start it at 1.0 s
    assert segments[-1].pitch_classes == ()
    assert abs(segments[-1].start - 0.9) < 0.046


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


def test_label_timeline_follows_the_instrument_and_marks_silence(tmp_path):
    from synthmir.infer.classify import Classifier
    from synthmir.infer.timeline import LabelSegment, label_timeline
    from tests.toy_model import SR, make_toy_model, sine

    classifier = Classifier.load(make_toy_model(tmp_path / "toy"))
    # The toy model hears 440 Hz as piano and 3520 Hz as brass.
    audio = np.concatenate([sine(4.0, freq=440), np.zeros(3 * SR, np.float32),
                            sine(4.0, freq=3520)])
    segments = label_timeline(classifier, audio, SR, hop_seconds=1.0)
    assert all(isinstance(s, LabelSegment) for s in segments)
    assert segments[0].start == 0 and segments[-1].end == pytest.approx(11.0)
    assert all(a.end == b.start for a, b in zip(segments, segments[1:], strict=False))
    assert [s.label for s in segments] == ["piano", "", "brass"]
    # Each hop is heard through the model window (2.04 s) ending with it, so the silence from
    # 4 s shows from the hop [6, 7) on: the window ending at 6 s still hears the sine.
    assert segments[1].start == pytest.approx(6.0) and segments[1].probability == 0
    assert 1 / 3 < segments[2].probability <= 1
    harmony = Classifier.load(make_toy_model(tmp_path / "harmony", multilabel=True))
    with pytest.raises(SynthmirError, match="chord timeline"):
        label_timeline(harmony, audio, SR, 1.0)



def test_chord_names_do_not_depend_on_the_hash_seed():
    """music21 lists added notes in set order, which Python's string hashing changes from
    run to run (PYTHONHASHSEED=4 gives "CaddF,D", 1 gives "CaddD,F"): they are listed
    upwards from the root, so a set has one name."""
    from synthmir.infer.timeline import _added_in_order

    assert _added_in_order("CaddF,D") == _added_in_order("CaddD,F") == "CaddD,F"
    assert _added_in_order("B-7addE-,C") == "B-7addC,E-" and _added_in_order("Am7") == "Am7"
    assert chord_name((0, 2, 4, 5, 7)) == "CaddD,F"
