"""Music constants and pitch-class helpers."""

import numpy as np
import pandas as pd

from synthmir.music import pitch_class_matrix, pitch_class_names


def test_pitch_class_names_sorts():
    assert pitch_class_names((7, 0, 4)) == "C E G"
    assert pitch_class_names(()) == ""


def test_pitch_class_matrix_reads_space_separated_classes():
    m = pitch_class_matrix(pd.Series(["0 4 7", "", None, "12 2"]))
    assert m.shape == (4, 12)
    assert np.flatnonzero(m[0]).tolist() == [0, 4, 7]
    assert not m[1].any() and not m[2].any()
    assert np.flatnonzero(m[3]).tolist() == [0, 2]  # 12 is C again
