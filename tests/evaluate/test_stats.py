"""The Wilson interval against known values."""

from __future__ import annotations

import numpy as np
import pytest

from synthmir.evaluate import stats


def test_wilson_interval_matches_known_values():
    assert stats.wilson_interval(0, 10) == (0.0, pytest.approx(0.27753, abs=1e-5))
    assert stats.wilson_interval(1, 2) == (pytest.approx(0.09453, abs=1e-5),
                                        pytest.approx(0.90547, abs=1e-5))
    low, high = stats.wilson_interval(3, 394)
    assert low < 3 / 394 < high and high < 0.023
    assert stats.wilson_interval(394, 394)[1] == 1.0
    lows, highs = stats.wilson_interval(np.array([0, 5]), np.array([10, 0]))
    assert lows[0] == 0 and np.isnan(lows[1]) and np.isnan(highs[1])
