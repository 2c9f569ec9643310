"""Decision thresholds of pitch-class models, tuned on the validation split."""

import numpy as np
import pytest

from synthmir.errors import SynthmirError
from synthmir.learn.thresholds import decide, tune_threshold
from tests.pitch_classes import labels as _labels


def test_tune_threshold_finds_the_gap_between_present_and_absent():
    y = _labels((0, 4, 7), (2, 5, 9), (7, 11, 2, 5))
    # present outputs sit at 0.3-0.4, absent ones at 0.1-0.2: 0.5 would miss every note
    rng = np.random.default_rng(0)
    p = np.where(y, rng.uniform(0.3, 0.4, y.shape), rng.uniform(0.1, 0.2, y.shape))
    t = tune_threshold(y, p)
    assert isinstance(t, float) and 0.2 < t <= 0.3  # middle of the gap, about 0.25
    assert (decide(p, t) == y.astype(bool)).all()


def test_tune_threshold_keeps_the_midpoint_when_everything_is_right():
    y = _labels((0, 4, 7), (9, 0, 4))
    p = np.where(y, 0.99, 0.01)
    assert tune_threshold(y, p) == pytest.approx(0.5, abs=0.02)


def test_tune_threshold_per_class_fixes_one_miscalibrated_output():
    y = _labels((0, 4, 7), (2, 7, 11), (0, 5, 9), (4, 7, 11))
    p = np.where(y, 0.9, 0.1)
    p[:, 7] = np.where(y[:, 7], 0.08, 0.02)  # G is always under-confident
    assert (decide(p, tune_threshold(y, p)) != y.astype(bool)).any()
    per_class = tune_threshold(y, p, mode="per_class")
    assert len(per_class) == 12 and per_class[7] <= 0.08
    assert (decide(p, per_class) == y.astype(bool)).all()


@pytest.mark.parametrize(("y", "p", "mode"), [
    (np.zeros((0, 12)), np.zeros((0, 12)), "global"),
    (np.zeros((3, 12)), np.zeros((3, 11)), "global"),
    (np.zeros((3, 12)), np.zeros((3, 12)), "median"),
])
def test_tune_threshold_rejects_bad_input(y, p, mode):
    with pytest.raises(SynthmirError):
        tune_threshold(y, p, mode=mode)
