"""A tiny external evaluation set: "recordings" the tiny models never heard.

Short two-note phrases rendered with the csound GM bank (a sound font the tiny dataset does
not use), at a level and with noise no training clip has, plus one noise file whose label
is empty (out of vocabulary: predicted, not scored), and a labels.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from synthmir.data.midi import Note, clip_midi, read_events, write_midi
from synthmir.data.synth import KNOWN_SOUNDFONTS, Renderer

SAMPLE_RATE = 44100
#: (file, GM program, family): two per family of the tiny dataset.
RECORDINGS = [("piano_a.wav", 0, "piano"), ("piano_b.flac", 1, "piano"),
              ("organ_a.wav", 16, "organ"), ("organ_b.flac", 17, "organ"),
              ("brass_a.wav", 56, "brass"), ("brass_b.flac", 57, "brass")]
UNLABELLED = "street_noise.wav"


def write_recordings(folder: Path) -> Path:
    """Render the set into ``folder`` (created); returns the labels table's path."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    with Renderer({"csound": KNOWN_SOUNDFONTS["csound"]["path"]}, SAMPLE_RATE) as renderer:
        for k, (name, program, _) in enumerate(RECORDINGS):
            notes = [Note(program, 60 + k, 90, 0.2, 1.4), Note(program, 64 + k, 80, 1.5, 2.8)]
            write_midi(clip_midi(notes, 3.0, one_channel=True), folder / "phrase.mid")
            events, _ = read_events(folder / "phrase.mid", SAMPLE_RATE)
            audio = renderer.render(events, "csound", 3 * SAMPLE_RATE)
            audio = audio / np.abs(audio).max() * 0.3 + rng.normal(0, 1e-3, audio.size)
            sf.write(folder / name, audio.astype(np.float32), SAMPLE_RATE)
    (folder / "phrase.mid").unlink()
    sf.write(folder / UNLABELLED, rng.normal(0, 0.05, 2 * SAMPLE_RATE), SAMPLE_RATE)
    rows = [(name, family) for name, _, family in RECORDINGS] + [(UNLABELLED, "")]
    table = folder / "labels.csv"
    pd.DataFrame(rows, columns=["file", "family"]).to_csv(table, index=False)
    return table
