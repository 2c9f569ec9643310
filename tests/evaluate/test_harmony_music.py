"""Frame-by-frame harmony scores and their breakdowns, on hand-made notes and decisions."""

from __future__ import annotations

import numpy as np
import pytest

from synthmir.evaluate.harmony_music import Tally, hop_limit_decisions
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


def test_the_hop_limit_is_the_truth_held_one_set_per_hop():
    # hop 0.25: G5 sounds 0.05 s of [0.25, 0.5), A5 the other 0.2 s: the hop holds A5 only
    held = hop_limit_decisions(NOTES, 8, 0.25)
    assert [set(np.flatnonzero(h)) for h in held[:2]] == [{0, 4, 7}, {0, 4, 9}]
    assert set(np.flatnonzero(held[4])) == {4} and not held[6].any()
    index = np.minimum((TIMES / 0.25).astype(int), 7)
    coarse = Tally()
    coarse.add(NOTES, TIMES, held[index])
    assert coarse.summary()["exact"] == pytest.approx(29 / 30, abs=1e-4)  # the frame at 0.275
    fine = Tally()
    fine.add(NOTES, TIMES, hop_limit_decisions(NOTES, 40, 0.05)[np.minimum(
        (TIMES / 0.05).astype(int), 39)])
    assert fine.summary()["exact"] == 1.0


def test_a_frame_level_limit_keeps_every_change_to_the_frame(tmp_path):
    from synthmir.evaluate.harmony_music import limit_segments, segment_decisions
    from synthmir.infer.classify import Classifier
    from tests.toy_model import make_toy_model

    frames = Classifier.load(make_toy_model(tmp_path / "frames", frame_level=True))
    segments = limit_segments(frames, NOTES, 2.0, hop=0.25)
    assert [s.pitch_classes for s in segments] == [(0, 4, 7), (0, 4, 9), (4,), ()]
    assert [round(s.end, 2) for s in segments] == [0.3, 1.0, 1.5, 2.0]
    tally = Tally()
    tally.add(NOTES, TIMES, segment_decisions(segments, TIMES))
    # the G5 that one set per 0.25-s hop loses (29 / 30 above) is kept
    assert tally.summary()["exact"] == 1.0

    clips = Classifier.load(make_toy_model(tmp_path / "clips", multilabel=True))
    held = segment_decisions(limit_segments(clips, NOTES, 2.0, hop=0.25), TIMES)
    np.testing.assert_array_equal(held, hop_limit_decisions(NOTES, 8, 0.25)[
        np.minimum((TIMES / 0.25).astype(int), 7)])


def test_report_shows_music_sets_frame_by_frame(tmp_path):
    """A music set's scores (as evaluate_external writes them) become the report's table."""
    import json
    from types import SimpleNamespace

    from synthmir import layout
    from synthmir.evaluate.report import render_report
    from synthmir.evaluate.report_generalization import generalization_section

    tally = Tally()
    tally.add(NOTES, TIMES, frame_pitch_classes(NOTES, TIMES).astype(bool))
    scores = {**tally.summary(), "hop_limit": {"f1": 0.9, "exact": 0.75}}
    entry = {"evaluation": "corpus", "model": "frames", "column": "pitch_classes", "files": 1,
             "hops": {"0.25": scores, "0.1": scores}}
    path = tmp_path / layout.GENERALIZATION_JSON
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"leave_one_out": [], "external": [entry]}))
    (section,) = generalization_section(SimpleNamespace(root=tmp_path))
    assert section["external"] == [] and [r["hop"] for r in section["music"]] == ["0.25", "0.1"]
    html = render_report(sections=[section], best=None, date="", version="")
    assert "Music, frame by frame" in html and html.count('href="#model-frames"') == 2
    assert "hop limit exact" in html and html.count(">75.0%<") == 2
