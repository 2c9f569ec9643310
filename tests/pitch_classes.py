"""Pitch-class sets as the 0/1 (n, 12) label matrices the harmony code works on."""

import numpy as np


def labels(*sets: tuple[int, ...]) -> np.ndarray:
    """int8 (len(sets), 12): row k has a 1 at every pitch class of ``sets[k]``."""
    y = np.zeros((len(sets), 12), dtype=np.int8)
    for row, pcs in zip(y, sets, strict=True):
        row[list(pcs)] = 1
    return y
