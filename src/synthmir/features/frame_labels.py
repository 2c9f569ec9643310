"""Frame-level pitch-class labels from a clip's MIDI file: what sounds in each feature frame.

A note counts in frame ``m`` (centred on sample ``m * hop``, see
:mod:`synthmir.features.pitchgram`) when the frame centre lies in ``[note-on, note-off)``.
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


def frame_pitch_classes(notes: list[SoundingNote], times: np.ndarray) -> np.ndarray:
    """uint8 (len(times), 12): 1 where a note of that pitch class sounds at each time (s)."""
    out = np.zeros((len(times), 12), dtype=np.uint8)
    for n in notes:
        out[(times >= n.onset) & (times < n.offset), n.pitch % 12] = 1
    return out


def clip_frame_labels(path: str | os.PathLike, preroll: float, n_frames: int, hop: int,
                      sample_rate: int) -> np.ndarray:
    """uint8 (n_frames, 12) pitch classes sounding at each frame centre of a clip."""
    times = np.arange(n_frames) * hop / float(sample_rate)
    return frame_pitch_classes(midi_notes(path, preroll), times)
