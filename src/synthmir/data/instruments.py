"""The 128 General MIDI programs, their families, and which pitches each sound font plays.

The table ships as package data (``gm_instruments.csv``): program (0-127), name (short,
snake case), description, family (one of :data:`FAMILIES`), family_description, tonal
(False for percussive, sound effects and synth effects), harmonic (also False for
chromatic percussion, whose partials are not harmonic), and low/high: the MIDI range the
instrument is played in (from orchestration practice). Sound fonts map every program over
all 128 keys, but a violin at MIDI 30 or a tuba at 100 occurs in no recording, so
randomized clips draw their pitches from this range.
"""

from __future__ import annotations

import functools
import logging
import time
from importlib import resources

import pandas as pd

from synthmir.config import complete
from synthmir.layout import atomic_path

log = logging.getLogger(__name__)

#: The 16 GM families, in program order (family k holds programs 8k .. 8k+7).
FAMILIES = (
    "piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble",
    "brass", "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic",
    "percussive", "sound_effects",
)


@functools.cache
def _table() -> pd.DataFrame:
    with resources.files("synthmir.data").joinpath("gm_instruments.csv").open() as fh:
        df = pd.read_csv(fh, dtype={"program": int, "tonal": bool, "harmonic": bool})
    return df


def load_instruments() -> pd.DataFrame:
    """The 128-row GM program table (a fresh copy; indexed 0..127 = program)."""
    return _table().copy()


def select_programs(programs_cfg: dict) -> list[int]:
    """The GM programs a dataset draws from.

    Parameters
    ----------
    programs_cfg : dict
        The ``programs`` section: ``{"families": [names] | "all", "per_family": n}`` (the
        first n programs of each family) or ``{"list": [programs]}``; missing keys take the
        schema's defaults.

    Returns
    -------
    Sorted, unique program numbers.

    Raises
    ------
    SynthmirError
        On an unknown family or a program outside 0-127.
    """
    cfg = complete("programs", programs_cfg, "programs")
    if "list" in cfg:
        return sorted(set(cfg["list"]))
    families = FAMILIES if cfg["families"] == "all" else cfg["families"]
    return sorted(8 * FAMILIES.index(f) + k for f in families for k in range(cfg["per_family"]))


def measure_playable(
    soundfont_path: str,
    programs: list[int] | None,
    velocity: int,
    seconds: float,
    threshold_db: float,
    sample_rate: int = 44100,
) -> pd.DataFrame:
    """Render every (program, pitch) pair briefly and record whether it sounds.

    A note is held for ``seconds`` and its RMS over that time measured. A pair the sound
    font has no sample for starts no voice, so its render stops at once (rms_db = -inf).

    Parameters
    ----------
    soundfont_path : .sf2/.sf3 file.
    programs : GM programs to measure (None: all 128); every pitch 0-127 of each.
    velocity : MIDI velocity of the probe note.
    seconds : probe note length, seconds.
    threshold_db : pairs whose RMS is below this (dBFS) do not sound.
    sample_rate : Hz.

    Returns
    -------
    DataFrame with columns program, pitch, rms_db (dBFS, rounded to 0.01), sounds (bool);
    one row per pair, sorted by program then pitch.
    """
    from synthmir.audio import rms_db
    from synthmir.data.midi import note_events
    from synthmir.data.synth import Renderer

    programs = list(range(128)) if programs is None else [int(p) for p in programs]
    n = max(1, round(seconds * sample_rate))
    start = time.perf_counter()
    rows = []
    with Renderer({"probe": soundfont_path}, sample_rate=sample_rate) as r:
        for program in programs:
            for pitch in range(128):
                events = note_events(program, pitch, velocity, seconds, sample_rate)
                rows.append((program, pitch, round(rms_db(r.render(events, "probe", n)), 2)))
    df = pd.DataFrame(rows, columns=["program", "pitch", "rms_db"])
    df["sounds"] = df["rms_db"] >= threshold_db
    log.info(
        "measured %d (program, pitch) pairs of %s in %.1f s: %d sound",
        len(df), soundfont_path, time.perf_counter() - start, int(df["sounds"].sum()),
    )
    return df


def write_playable(soundfont_path: str, probe: dict, out_csv: str) -> None:
    """Measure every (program, pitch) pair of a sound font and write the table atomically.

    ``probe`` is the ``playable`` config section: ``velocity``, ``seconds``, ``threshold_db``
    (see :func:`measure_playable`).
    """
    table = measure_playable(soundfont_path, None, probe["velocity"], probe["seconds"],
                             probe["threshold_db"])
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
