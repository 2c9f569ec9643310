"""Domain randomization: seeded per clip, recorded, switchable, and every modifier audible."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from synthmir.config import complete
from synthmir.data.midi import (
    CHORUS_SEND,
    GENERATORS,
    REVERB_SEND,
    Note,
    clip_midi,
    generator_controls,
    read_events,
    write_midi,
)
from synthmir.data.randomize import draw_performance
from synthmir.data.render import COLUMNS
from synthmir.data.synth import Renderer, Room
from synthmir.errors import SynthmirError
from tests.data.rendering import FLUIDR3, notes_cfg
from tests.data.test_render import build

pytestmark = pytest.mark.skipif(
    not Path(FLUIDR3).is_file(), reason="needs FluidR3_GM (Debian package fluid-soundfont-gm)"
)
RANDOMIZED = notes_cfg(clips=12, randomize={"probability": 0.7})
#: A randomization column per generator, and the effect and room columns.
MODIFIER_COLUMNS = [*GENERATORS, "reverb_send", "chorus_send", "room_size", "level_db",
                    "noise", "snr_db", "room_rt60_s", "eq_peaks", "codec"]


def audio(root: Path, table: pd.DataFrame, index: int) -> np.ndarray:
    row = table[table["index"] == index].iloc[0]
    return sf.read(root / row["file"], dtype="int16")[0]


def test_a_randomized_clip_is_the_same_whatever_the_dataset_size_and_shards(playable, tmp_path):
    small = build(RANDOMIZED, playable, tmp_path / "small")
    large = build({**RANDOMIZED, "clips": 20, "shards": 3}, playable, tmp_path / "large")
    assert small["randomized"].astype(str).eq("True").sum() >= 3
    same = [c for c in COLUMNS if c not in ("shard", "file", "midi")]
    pd.testing.assert_frame_equal(small[same], large[same].iloc[:12].reset_index(drop=True))
    for i in range(12):
        np.testing.assert_array_equal(audio(tmp_path / "small", small, i),
                                      audio(tmp_path / "large", large, i))


def test_randomization_records_what_it_drew(playable, tmp_path):
    table = build(RANDOMIZED, playable, tmp_path)
    randomized = table[table["randomized"].astype(str) == "True"]
    plain = table[table["randomized"].astype(str) == "False"]
    assert set(randomized["articulation"]) <= {"single", "repeated", "phrase"}
    assert (randomized["level_db"].astype(float) <= 0).all()
    for column in MODIFIER_COLUMNS:
        assert column in table.columns
        assert (plain[column] == "").all(), column
    # a phrase's notes are all in the table, onsets relative to the clip start
    for row in randomized.itertuples():
        assert len(row.pitches.split()) == int(row.n_notes) == len(row.onsets_ms.split())


def test_switching_randomization_off_keeps_the_plain_clips(playable, tmp_path):
    off = build(notes_cfg(clips=12), playable, tmp_path / "off")
    zero = build({**RANDOMIZED, "randomize": {"probability": 0.0}}, playable, tmp_path / "zero")
    on = build(RANDOMIZED, playable, tmp_path / "on")
    plain = on["randomized"].astype(str) == "False"
    for i in range(12):
        reference = audio(tmp_path / "off", off, i)
        np.testing.assert_array_equal(audio(tmp_path / "zero", zero, i), reference)
        if plain.iloc[i]:
            np.testing.assert_array_equal(audio(tmp_path / "on", on, i), reference)
    assert not plain.all()


@pytest.fixture(scope="module")
def renderer():
    with Renderer({"fluidr3": FLUIDR3}, 22050, reverb=True, chorus=True) as r:
        yield r


def render(renderer, tmp_path, controls=(), cents=0.0, room=None, dry=True) -> np.ndarray:
    notes = [Note(40, 67, 100, 0.0, 0.8, cents)]
    write_midi(clip_midi(notes, 1.5, list(controls)), tmp_path / "n.mid")
    events, _ = read_events(tmp_path / "n.mid", 22050)
    return renderer.render(events, "fluidr3", 33075, room=room, dry=dry)


@pytest.mark.parametrize("generator, offset", [
    ("filter_cents", -2400), ("resonance_cb", 150), ("attack_timecents", 2400),
    ("release_timecents", 2400), ("vibrato_depth_cents", 40), ("tremolo_cb", 60),
])
def test_each_synthesizer_modifier_changes_the_audio(renderer, tmp_path, generator, offset):
    plain = render(renderer, tmp_path)
    changed = render(renderer, tmp_path, generator_controls(generator, offset))
    assert np.abs(changed - plain).max() > 1e-3
    # the same file renders the same samples again
    np.testing.assert_array_equal(
        changed, render(renderer, tmp_path, generator_controls(generator, offset)))


def test_vibrato_rate_sends_and_detune_change_the_audio(renderer, tmp_path):
    deep = generator_controls("vibrato_depth_cents", 40)
    slow = render(renderer, tmp_path, deep + generator_controls("vibrato_rate_cents", -1200))
    assert np.abs(slow - render(renderer, tmp_path, deep)).max() > 1e-3
    dry = render(renderer, tmp_path)
    for send in (REVERB_SEND, CHORUS_SEND):
        wet = render(renderer, tmp_path, [(send, 100)], room=Room(0.8, 0.2, 50, 0.9), dry=False)
        assert np.abs(wet - dry).max() > 1e-3
    assert np.abs(render(renderer, tmp_path, cents=30.0) - dry).max() > 1e-3


def test_generator_offsets_out_of_nrpn_range_are_refused():
    with pytest.raises(SynthmirError, match="NRPN range"):
        generator_controls("resonance_cb", 10000)


def test_performances_stay_in_the_instruments_range():
    settings = complete("randomize", {"outside_range": 0.0})
    playable = np.ones(128, dtype=bool)
    articulations = set()
    for seed in range(60):
        p = draw_performance(np.random.default_rng(seed), settings, 40, playable, (55, 103),
                             (60, 127), 2.0)
        articulations.add(p.articulation)
        assert all(55 <= n.pitch <= 103 for n in p.notes)
        assert all(0 <= n.onset < p.preroll + 2.0 and n.offset > n.onset for n in p.notes)
        # a note sounding before the clip starts the file: the pre-roll leads up to it
        assert p.preroll == 0 or min(n.onset for n in p.notes) == pytest.approx(0)
    assert articulations == {"single", "repeated", "phrase"}
