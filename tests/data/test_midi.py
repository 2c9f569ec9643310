"""MIDI clip files and the chord vocabulary."""

import pytest
from music21 import harmony

from synthmir.data.midi import (
    CHORD_FIGURES,
    Note,
    bend_to_cents,
    cents_to_bend,
    chord_vocabulary,
    clip_midi,
    read_events,
    write_midi,
)
from synthmir.errors import SynthmirError

SR = 44100


def test_cents_to_bend_round_trip():
    assert cents_to_bend(0) == 0
    assert cents_to_bend(100) == 4096  # half of the 2-semitone range
    assert abs(bend_to_cents(cents_to_bend(-37.3)) + 37.3) < 0.025
    with pytest.raises(SynthmirError, match="bend range"):
        cents_to_bend(250)


def test_clip_midi_round_trip(tmp_path):
    notes = [Note(40, 60, 100, 0.0, 1.0, 12.5), Note(0, 64, 80, 0.25, 1.25)]
    path = tmp_path / "c.mid"
    write_midi(clip_midi(notes, 2.0), path)
    events, seconds = read_events(path, SR)
    assert seconds == pytest.approx(2.0)
    got = {(e.kind, e.channel, e.a) : e for e in events}
    assert got["program_change", 0, 40].sample == 0 and got["program_change", 1, 0].sample == 0
    assert got["pitchwheel", 0, 8192 + cents_to_bend(12.5)].sample == 0
    assert ("pitchwheel", 1, 8192) not in got  # no bend, no message
    assert got["note_on", 0, 60].b == 100 and got["note_on", 1, 64].sample == SR // 4
    assert got["note_off", 0, 60].sample == SR and got["note_off", 1, 64].sample == 1.25 * SR


def test_clip_notes_skip_the_drum_channel():
    notes = [Note(0, 40 + k, 90, 0.0, 1.0) for k in range(12)]
    channels = {m.channel for m in clip_midi(notes, 2.0).tracks[0] if m.type == "note_on"}
    assert 9 not in channels and len(channels) == 12
    with pytest.raises(SynthmirError, match="at most 15"):
        clip_midi([Note(0, 40 + k, 90, 0.0, 1.0) for k in range(16)], 2.0)


def test_unreadable_midi(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    with pytest.raises(SynthmirError, match="cannot read MIDI"):
        read_events(bad, SR)


def test_vocabulary_shapes_spell_their_chords():
    vocab = chord_vocabulary()
    names = {v.chord for v in vocab}
    assert {"note", "m3", "P5", "P8", "maj", "min", "dim", "aug", "dom7", "maj7", "hdim7",
            "dim7", "dom9", "dom13"} <= names
    for v in vocab:
        assert v.offsets[0] == 0 and list(v.offsets) == sorted(set(v.offsets))
        if v.chord in CHORD_FIGURES:
            symbol = harmony.ChordSymbol(CHORD_FIGURES[v.chord])
            want = {int(p.ps - symbol.root().ps) % 12 for p in symbol.pitches}
            assert {(o - v.root) % 12 for o in v.offsets} == want, v


def test_vocabulary_inversions_and_voicings():
    triads = {(v.inversion, v.voicing): v.offsets for v in chord_vocabulary(("maj",), False, False)}
    assert triads[0, "close"] == (0, 4, 7)
    assert triads[1, "close"] == (0, 3, 8) and triads[2, "close"] == (0, 5, 9)
    assert triads[0, "open"] == (0, 7, 16)
    sevenths = chord_vocabulary(("dom7",), False, False, True, ("close",))
    assert sorted(v.inversion for v in sevenths) == [0, 1, 2, 3]
    assert len(chord_vocabulary(("dom7",), False, False, False, ("close",))) == 1
    with pytest.raises(SynthmirError, match="unknown chord"):
        chord_vocabulary(("major",))
