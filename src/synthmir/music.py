"""Music constants and pitch-class helpers shared by every stage.

Pitch classes are integers 0 (C) .. 11 (B) throughout; a set of them is written in tables
as space-separated integers ("0 4 7").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

#: Names of the pitch classes 0 .. 11 (sharps, no flats).
PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: MIDI number of A4, the pitch the tuning frequency names.
A4_MIDI = 69


def pitch_class_names(pitch_classes: Sequence[int]) -> str:
    """Space-separated names, e.g. ``"C E G"`` for (0, 4, 7); ``""`` for none."""
    return " ".join(PITCH_CLASS_NAMES[pc % 12] for pc in sorted(pitch_classes))


def pitch_class_matrix(sets: Iterable[str | None], dtype: np.dtype | type = np.int8
                       ) -> np.ndarray:
    """Indicator matrix (clips, 12) of pitch-class sets written as text ("0 4 7").

    An empty text, None or NaN (a missing table value) is the empty set.
    """
    texts = ["" if text is None or text != text else str(text) for text in sets]
    matrix = np.zeros((len(texts), 12), dtype=dtype)
    for row, text in enumerate(texts):
        for pc in text.split():
            matrix[row, int(pc) % 12] = 1
    return matrix


def reserved_piece(piece: str) -> bool:
    """A corpus piece reserved for independent evaluation (the Bach chorales): no Bach is
    read at all, by name, so no chorale slips in under another path."""
    return "bach" in piece.lower()
