"""Frame-by-frame harmony scores and their breakdowns, on hand-made notes and decisions."""

from __future__ import annotations

import numpy as np
import pytest

from synthmir.evaluate.harmony_music import Tally
from synthmir.features.frame_labels import SoundingNote, frame_pitch_classes

NOTES = [SoundingNote(0, 48, 0.0, 1.0), SoundingNote(1, 64, 0.0, 1.5),  # C3, E4
         SoundingNote(2, 79, 0.0, 0.3), SoundingNote(2, 81, 0.3, 1.0)]  # G5 then A5 (short G)
TIMES = np.arange(0.025, 2.0, 0.05)  # nothing sounds after 1.5 s


def test_perfect_decisions_score_one_and_skip_silent_frames():
    tally = Tally()
    tally.add(NOTES, TIMES, frame_pitch_classes(NOTES, TIMES).astype(bool))
    s = tally.summary()
    assert s["frames"] == 30 and s["f1"] == s["exact"] == 1.0
    assert all(v == 1.0 for v in s["breakdown_recall"].values())


def test_breakdowns_find_a_lost_melody_and_a_lingering_chord():
    predicted = frame_pitch_classes(NOTES, TIMES).astype(bool)
    predicted[:, [7, 9]] = False  # the melody (G5, A5) is never heard
    predicted[(TIMES >= 1.0) & (TIMES < 1.2), 0] = True  # C lingers 0.2 s after it ends
    tally = Tally()
    tally.add(NOTES, TIMES, predicted)
    s = tally.summary()
    recall = s["breakdown_recall"]
    assert recall["top_only"] == pytest.approx(1 / 3, abs=1e-4)  # E4 alone at the end
    assert recall["register C5 and up"] == 0.0
    assert recall["register C3-B4"] == 1.0 and "register below C3" not in recall
    assert recall["short_notes"] == 0.0  # the 0.3-s G5
    assert s["lingering_false_positives"] == 1.0
    assert s["exact"] == pytest.approx(6 / 30, abs=1e-4)
    assert s["recall"] == pytest.approx(50 / 70, abs=1e-4)
