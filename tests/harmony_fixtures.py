"""Shared by test_harmony.py and test_listen.py: one run of the workflow on
tests/config_tiny_chords.yaml, and a rendered chord progression to transcribe.

Each test module declares thin session fixtures over these helpers; the helpers cache their
result per pytest temporary root, so the workflow runs once per session however many modules
ask for it.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
CHORDS_CONFIG = ROOT / "tests" / "config_tiny_chords.yaml"
SAMPLE_RATE = 44100
#: The progression rendered for the end-to-end tests: (MIDI pitches, expected chord name).
PROGRESSION = [((60, 64, 67), "C"), ((57, 60, 64), "Am"), ((53, 57, 60), "F"),
               ((55, 59, 62, 65), "G7")]
#: Seconds each chord sounds (note-on at k * STEP_SECONDS, note-off at the next chord).
STEP_SECONDS = 2.0


@functools.cache
def chords_workdir(base: Path) -> Path:
    """Working directory of `snakemake -j2 results/leaderboard.csv` on the tiny chords config
    (run under ``base`` once)."""
    workdir = base / "chords_run"
    workdir.mkdir()
    result = subprocess.run(
        [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
         "--configfile", str(CHORDS_CONFIG), "--replace-workflow-config", "-j2",
         "results/leaderboard.csv"],
        capture_output=True, text=True, timeout=900,
    )
    if result.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}" for p in workdir.glob("logs/**/*.log"))
        pytest.fail(f"snakemake failed:\n{result.stderr[-6000:]}\n{logs}")
    return workdir


@functools.cache
def progression_file(base: Path) -> Path:
    """PROGRESSION on acoustic grand piano (FluidR3), 0.5 s of release after the last chord,
    as a 16-bit WAV at 44.1 kHz (rendered once under ``base``)."""
    from synthmir.midi import Note, clip_midi, read_events, write_midi
    from synthmir.synth import KNOWN_SOUNDFONTS, Renderer

    notes = [Note(0, pitch, 90, k * STEP_SECONDS, (k + 1) * STEP_SECONDS)
             for k, (pitches, _) in enumerate(PROGRESSION) for pitch in pitches]
    seconds = len(PROGRESSION) * STEP_SECONDS + 0.5
    folder = base / "progression"
    folder.mkdir()
    write_midi(clip_midi(notes, seconds), folder / "progression.mid")
    events, _ = read_events(folder / "progression.mid", SAMPLE_RATE)
    with Renderer({"fluidr3": KNOWN_SOUNDFONTS["fluidr3"]["path"]}, SAMPLE_RATE) as renderer:
        audio = renderer.render(events, "fluidr3", round(seconds * SAMPLE_RATE))
    assert np.abs(audio).max() < 1.0
    sf.write(folder / "progression.wav", audio, SAMPLE_RATE, subtype="PCM_16")
    return folder / "progression.wav"
