"""Which windows of a recording vote, and how votes combine."""

import numpy as np
import pytest

from synthmir.infer.voting import WindowStats, combine, voting_windows, window_stats

RATE = 22050


def envelope(levels_db: list[float], seconds: float = 0.25) -> np.ndarray:
    """A tone whose level steps through ``levels_db`` (dBFS peak), ``seconds`` a step."""
    n = int(seconds * RATE)
    t = np.arange(n * len(levels_db)) / RATE
    gain = np.repeat(10 ** (np.asarray(levels_db) / 20), n)
    return (gain * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_a_decaying_tail_is_decay_and_a_new_note_is_not():
    assert window_stats(envelope([-10, -15, -20, -25, -30, -35, -40, -45]), RATE).decay
    assert not window_stats(envelope([-30, -35, -10, -15, -20, -25, -30, -35]), RATE).decay
    assert not window_stats(envelope([-12] * 8), RATE).decay  # a sustained note


def test_quiet_and_decay_windows_do_not_vote():
    stats = [WindowStats(-10, False), WindowStats(-50, False), WindowStats(-12, True),
             WindowStats(-20, False)]
    np.testing.assert_array_equal(voting_windows(stats), [True, False, False, True])
    # when every loud window is decay, they vote rather than nobody
    np.testing.assert_array_equal(voting_windows([WindowStats(-10, True),
                                                  WindowStats(-60, False)]), [True, False])


@pytest.mark.parametrize("method", ["geometric", "mean", "vote"])
def test_combinations_are_distributions_that_follow_agreement(method):
    p = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    out = combine(p, method)
    assert out.sum() == pytest.approx(1.0, abs=1e-6) and out.argmax() == 0


def test_geometric_mean_punishes_a_confident_no():
    p = np.array([[0.5, 0.5], [0.001, 0.999], [0.9, 0.1]])
    assert combine(p, "mean")[0] > combine(p, "geometric")[0]
