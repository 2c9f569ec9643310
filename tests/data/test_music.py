"""Music clips: generated voice-led music and corpus excerpts, rendered with frame labels."""

from __future__ import annotations

import mido
import numpy as np
import pandas as pd
import pytest

from synthmir.config import complete
from synthmir.data.midi import chord_vocabulary
from synthmir.data.music import Composer, corpus_excerpt, corpus_notes
from synthmir.data.render import render_shard
from synthmir.errors import SynthmirError
from synthmir.features.store import FeatureStore, extract_shard
from tests.data.rendering import SOUNDFONTS, notes_cfg


def _composer(**music) -> Composer:
    cfg = complete("dataset", {"kind": "music", "clips": 1, "music": music})
    tones = {s.chord: s.offsets for s in chord_vocabulary(("maj", "min", "dom7"), False, False,
                                                          False, ("close",))}
    return Composer(cfg["music"], tones, (21, 108))


def test_generated_music_is_voice_led_over_the_range():
    composer = _composer(voices={"min": 4, "max": 4})
    for seed in range(5):
        passage = composer.compose(np.random.default_rng(seed), 4.0)
        assert passage.voices == 4 and passage.source == "generated"
        assert {n.voice for n in passage.notes} == {0, 1, 2, 3}
        assert all(21 <= n.pitch <= 108 and n.offset > n.onset for n in passage.notes)
        assert max(n.offset for n in passage.notes) <= 4.0 + passage.preroll + 1e-9
        mean = [np.mean([n.pitch for n in passage.notes if n.voice == v]) for v in range(4)]
        assert mean[0] < mean[3]  # the bass below the melody
    # the same generator gives the same music
    a, b = (composer.compose(np.random.default_rng(7), 4.0) for _ in range(2))
    assert a == b


def test_corpus_excerpt_starts_the_clip_after_its_preroll():
    table = pd.DataFrame({"piece": "p", "part": [0, 0, 1], "pitch": [60, 62, 48],
                          "onset": [0.0, 4.0, 0.0], "duration": [4.0, 4.0, 8.0]})
    music = complete("dataset", {"kind": "music", "clips": 1,
                                 "music": {"corpus": {"quarter_seconds": {"min": 0.5,
                                                                          "max": 0.5}}}})["music"]
    passage = corpus_excerpt(np.random.default_rng(1), table, music, 1.0)
    assert passage.source == "corpus" and passage.piece == "p" and passage.voices == 2
    # every note sounds within the clip, which starts `preroll` seconds into the MIDI
    assert all(n.onset < 1.0 + passage.preroll and n.offset > passage.preroll
               for n in passage.notes)


def test_bach_is_never_read():
    with pytest.raises(SynthmirError, match="reserved"):
        corpus_notes("bach/prelude.mxl")


def test_music_shard_renders_voices_with_frame_labels(playable, tmp_path):
    cfg = {**notes_cfg(clips=4, clip_seconds=2.0), "kind": "music",
           "randomize": {"probability": 0.5}, "music": {"voices": {"min": 3, "max": 3}}}
    cfg.pop("note_seconds")
    render_shard("m", cfg, SOUNDFONTS, playable, 0, str(tmp_path), str(tmp_path / "m.csv"))
    table = pd.read_csv(tmp_path / "m.csv", keep_default_na=False)
    assert (table["n_notes"] >= 3).all() and (table["voicing"] == "3 voices").all()
    for row in table.itertuples():
        channels = {m.channel for m in mido.MidiFile(tmp_path / row.midi) if m.type == "note_on"}
        assert len(channels) == 3  # one channel per voice
    extract_shard(str(tmp_path / "m.csv"), str(tmp_path), str(tmp_path / "f.h5"),
                  {"kind": "pitchgram"}, frame_labels=True)
    with FeatureStore(tmp_path / "f.h5") as store:
        labels = store.frame_labels
        assert labels.shape == (4, store.shape[1], 12)
    for row, frames in zip(table.itertuples(), labels, strict=True):
        sounding = set(np.flatnonzero(frames.any(axis=0)))
        assert sounding and sounding <= {int(p) for p in str(row.pitch_classes).split()}
