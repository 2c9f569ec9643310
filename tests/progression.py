"""A chord progression rendered with FluidSynth, for the tests that transcribe it.

The harmony model that transcribes it is trained by the workflow on
tests/config_tiny_chords.yaml (the ``chords_run`` fixture of tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 44100
#: The progression rendered for the end-to-end tests: (MIDI pitches, expected chord name).
PROGRESSION = [((60, 64, 67), "C"), ((57, 60, 64), "Am"), ((53, 57, 60), "F"),
               ((55, 59, 62, 65), "G7")]
#: Seconds each chord sounds (note-on at k * STEP_SECONDS, note-off at the next chord).
STEP_SECONDS = 2.0


def progression_file(folder: Path) -> Path:
    """PROGRESSION on acoustic grand piano (FluidR3), 0.5 s of release after the last chord,
    as a 16-bit WAV at 44.1 kHz in ``folder``."""
    from synthmir.data.midi import Note, clip_midi, read_events, write_midi
    from synthmir.data.synth import KNOWN_SOUNDFONTS, Renderer

    notes = [Note(0, pitch, 90, k * STEP_SECONDS, (k + 1) * STEP_SECONDS)
             for k, (pitches, _) in enumerate(PROGRESSION) for pitch in pitches]
    seconds = len(PROGRESSION) * STEP_SECONDS + 0.5
    write_midi(clip_midi(notes, seconds), folder / "progression.mid")
    events, _ = read_events(folder / "progression.mid", SAMPLE_RATE)
    with Renderer({"fluidr3": KNOWN_SOUNDFONTS["fluidr3"]["path"]}, SAMPLE_RATE) as renderer:
        audio = renderer.render(events, "fluidr3", round(seconds * SAMPLE_RATE))
    assert np.abs(audio).max() < 1.0
    sf.write(folder / "progression.wav", audio, SAMPLE_RATE, subtype="PCM_16")
    return folder / "progression.wav"
