"""Frame-level labels from a clip's MIDI file: which notes sound in each feature frame.

Labels are kept per MIDI pitch (a piano roll, which trains a frame model's note detector at
the right octave); the pitch classes are their fold. A note counts in frame ``m`` (centred
on sample ``m * hop``, see :mod:`synthmir.features.pitchgram`) when the frame centre lies in
``[note-on, note-off)``.
The release after the note-off does not count: a note that has ended is not part of the
harmony, even while its tail fades, so a model learns to drop it (the issue measured 87% of
the false positives as the previous chord lingering). Times are read from the file itself,
so the labels hold whatever was rendered.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import mido
import numpy as np

from synthmir.errors import SynthmirError


@dataclass(frozen=True)
class SoundingNote:
    """A note of a MIDI file: channel, MIDI pitch, note-on and note-off in seconds."""

    channel: int
    pitch: int
    onset: float
    offset: float


def midi_notes(path: str | os.PathLike, preroll: float = 0.0) -> list[SoundingNote]:
    """Every note of a MIDI file, timed in seconds from ``preroll`` (the clip start).

    A note-on of a pitch already sounding on its channel ends the earlier one; a note
    without a note-off lasts to the end of the file.

    Raises
    ------
    SynthmirError
        When the file cannot be read as MIDI.
    """
    try:
        mid = mido.MidiFile(path)
    except (OSError, EOFError, ValueError) as exc:
        raise SynthmirError(f"cannot read MIDI file {path}: {exc}; is it a .mid file?") from exc
    now, open_notes, notes = 0.0, {}, []
    for msg in mid:  # merged tracks, delta times in seconds
        now += msg.time
        if msg.type not in ("note_on", "note_off"):
            continue
        key = (msg.channel, msg.note)
        if key in open_notes:
            notes.append(SoundingNote(*key, open_notes.pop(key) - preroll, now - preroll))
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes[key] = now
    notes += [SoundingNote(*key, on - preroll, now - preroll) for key, on in open_notes.items()]
    return sorted(notes, key=lambda n: (n.onset, n.pitch))


def frame_pitches(notes: list[SoundingNote], times: np.ndarray) -> np.ndarray:
    """uint8 (len(times), 128): 1 where a note of that MIDI pitch sounds at each time (s)."""
    out = np.zeros((len(times), 128), dtype=np.uint8)
    for n in notes:
        out[(times >= n.onset) & (times < n.offset), n.pitch] = 1
    return out


def fold_pitch_classes(rolls: np.ndarray) -> np.ndarray:
    """uint8 (..., 12): the pitch classes of piano rolls (..., 128)."""
    padded = np.zeros((*rolls.shape[:-1], 132), dtype=np.uint8)
    padded[..., :128] = rolls
    return padded.reshape(*rolls.shape[:-1], 11, 12).max(axis=-2)


def frame_pitch_classes(notes: list[SoundingNote], times: np.ndarray) -> np.ndarray:
    """uint8 (len(times), 12): 1 where a note of that pitch class sounds at each time (s)."""
    return fold_pitch_classes(frame_pitches(notes, times))


def notes_at_bins(rolls: np.ndarray, bin_midi: np.ndarray) -> np.ndarray:
    """Piano rolls (..., 128) at feature bins (..., bins): each bin takes the note nearest
    its centre pitch (``bin_midi``, from the feature file)."""
    return rolls[..., np.clip(np.rint(bin_midi), 0, 127).astype(int)]


def clip_frame_notes(path: str | os.PathLike, preroll: float, n_frames: int, hop: int,
                     sample_rate: int) -> np.ndarray:
    """uint8 (n_frames, 128): the MIDI pitches sounding at each frame centre of a clip."""
    times = np.arange(n_frames) * hop / float(sample_rate)
    return frame_pitches(midi_notes(path, preroll), times)
