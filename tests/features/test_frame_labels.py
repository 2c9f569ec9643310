"""Frame labels: the pitch classes whose notes are on at each frame centre, from the MIDI."""

from __future__ import annotations

import numpy as np
import pytest

from synthmir.data.midi import Note, clip_midi, write_midi
from synthmir.errors import SynthmirError
from synthmir.features.frame_labels import clip_frame_notes, fold_pitch_classes, midi_notes


def test_notes_and_frames_after_the_preroll(tmp_path):
    path = tmp_path / "c.mid"
    notes = [Note(0, 60, 90, 0.0, 0.5, voice=0), Note(0, 64, 90, 0.3, 1.0, voice=1),
             Note(48, 67, 90, 0.7, 0.9, voice=2)]
    write_midi(clip_midi(notes, 1.2), path)
    read = midi_notes(path, preroll=0.2)
    assert [(n.pitch, round(n.onset, 3), round(n.offset, 3)) for n in read] == [
        (60, -0.2, 0.3), (64, 0.1, 0.8), (67, 0.5, 0.7)]
    # frames every 0.1 s (hop 4410 at 44.1 kHz): a note counts from note-on to note-off
    rolls = clip_frame_notes(path, 0.2, 10, 4410, 44100)
    on = {t: set(np.flatnonzero(row)) for t, row in enumerate(rolls)}
    assert on[0] == {60} and on[2] == {60, 64} and on[3] == {64}  # C ends at 0.3: released
    assert on[5] == {64, 67} and on[7] == {64} and on[8] == on[9] == set()
    classes = fold_pitch_classes(rolls)
    assert classes.shape == (10, 12) and set(np.flatnonzero(classes[5])) == {4, 7}


def test_pitch_classes_fold_every_octave_up_to_g9():
    rolls = np.zeros((2, 128), np.uint8)
    rolls[0, [0, 24, 127]] = 1  # C-1, C1 and G9, the highest MIDI pitch
    rolls[1, 61] = 1
    assert [set(np.flatnonzero(r)) for r in fold_pitch_classes(rolls)] == [{0, 7}, {1}]


def test_unreadable_midi_is_refused(tmp_path):
    (tmp_path / "x.mid").write_bytes(b"not midi")
    with pytest.raises(SynthmirError, match="cannot read MIDI"):
        midi_notes(tmp_path / "x.mid")
