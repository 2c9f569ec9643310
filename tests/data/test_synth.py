"""In-process FluidSynth rendering: tuning, exact length, independence, sound font errors."""

from pathlib import Path

import numpy as np
import pytest

from synthmir.data.midi import Event, note_events
from synthmir.data.synth import BLOCK, Renderer, resolve_soundfont
from synthmir.errors import SynthmirError

FLUIDR3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


SR = 44100


pytestmark = pytest.mark.skipif(
    not Path(FLUIDR3).is_file(), reason="needs FluidR3_GM (Debian package fluid-soundfont-gm)"
)


@pytest.fixture(scope="module")
def renderer():
    with Renderer({"fluidr3": FLUIDR3}, sample_rate=SR) as r:
        yield r


def midi_hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def strongest_partial_cents(audio: np.ndarray, pitch: int) -> float:
    """Cents between the strongest partial, divided by its nearest harmonic number, and
    ``pitch``'s fundamental (Hann window, 8x zero padding, parabolic peak interpolation)."""
    seg = audio[SR // 10: SR // 10 + SR // 2]  # 0.1-0.6 s: past the attack, note still held
    n = 8 * len(seg)
    mag = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n))
    f0 = midi_hz(pitch)
    lo = int(0.75 * f0 * n / SR)  # ignore rumble below the fundamental
    k = lo + int(np.argmax(mag[lo:]))
    a, b, c = np.log(mag[k - 1: k + 2])
    peak = (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / n
    harmonic = max(1, round(peak / f0))
    return 1200 * np.log2(peak / harmonic / f0)


@pytest.mark.parametrize("program", [0, 19, 24, 40, 56, 66, 73])
def test_rendered_notes_are_in_tune(renderer, program):
    for pitch in (55, 67, 79):
        audio = renderer.render(note_events(program, pitch, 100, 1.0, SR), "fluidr3", SR)
        assert abs(strongest_partial_cents(audio, pitch)) < 30, (program, pitch)


def test_pitch_bend_detunes(renderer):
    # +50 cents on channel 0 (8192 = no bend, 2-semitone range)
    events = [Event(0, "pitchwheel", 0, 8192 + 2048), *note_events(0, 69, 100, 1.0, SR)]
    cents = strongest_partial_cents(renderer.render(events, "fluidr3", SR), 69)
    assert abs(cents - 50) < 10


def test_exact_length_float_output(renderer):
    audio = renderer.render(note_events(0, 60, 100, 1.0, SR), "fluidr3", 88201)
    assert audio.shape == (88201,) and audio.dtype == np.float32
    assert 0 < np.abs(audio).max() < 1


def test_events_land_on_block_boundaries(renderer):
    events = note_events(0, 60, 100, 0.5, SR)
    late = [Event(e.sample + 1000, e.kind, e.channel, e.a, e.b) for e in events]
    audio = renderer.render(late, "fluidr3", SR)
    first = int(np.flatnonzero(audio)[0])
    assert first >= round(1000 / BLOCK) * BLOCK and first < 1000 + BLOCK


@pytest.mark.parametrize("effects", [False, True])
def test_clip_does_not_depend_on_what_was_rendered_before(effects):
    def fresh():
        return Renderer({"fluidr3": FLUIDR3}, sample_rate=SR, reverb=effects, chorus=effects)

    target = note_events(0, 60, 90, 1.0, SR)
    alone = fresh().render(target, "fluidr3", 2 * SR)
    renderer = fresh()
    # notes still ringing at the end of their clip (guitar, strings), other pans and slots
    for program, pitch in ((24, 40), (48, 72), (73, 84), (0, 30)):
        renderer.render(note_events(program, pitch, 127, 1.9, SR), "fluidr3", 2 * SR)
    after = renderer.render(target, "fluidr3", 2 * SR)
    assert np.abs(alone - after).max() <= 1e-6


def test_missing_soundfont_names_the_package(tmp_path):
    with pytest.raises(SynthmirError, match="fluid-soundfont-gm"):
        Renderer({"fluidr3": tmp_path / "gone.sf2"}, packages={"fluidr3": "fluid-soundfont-gm"})
    with pytest.raises(SynthmirError, match="pretty_midi"):
        Renderer({"timgm6mb": tmp_path / "gone.sf2"}, packages={"timgm6mb": "timgm6mb-soundfont"})


def test_resolve_soundfont(monkeypatch, tmp_path):
    assert resolve_soundfont("fluidr3") == ("fluidr3", Path(FLUIDR3))
    monkeypatch.setenv("SYNTHMIR_SOUNDFONT", FLUIDR3)
    assert resolve_soundfont(None)[1] == Path(FLUIDR3)
    with pytest.raises(SynthmirError, match="unknown sound font"):
        resolve_soundfont("fluidr4")
    with pytest.raises(SynthmirError, match="not found"):
        resolve_soundfont(str(tmp_path / "x.sf2"))
