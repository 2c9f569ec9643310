"""How a frame-level model's frames become one decision per hop."""

from __future__ import annotations

import numpy as np

from synthmir.infer.windows import _median_of_frames

HOP = 2048


def test_a_hop_takes_the_majority_of_its_frames_not_their_mean():
    # six frames in the hop: one class confidently on in four of them, one in two
    frames = np.zeros((8, 3), dtype=np.float32)
    frames[1:5, 0] = 0.9
    frames[1:3, 1] = 0.9
    centres = np.arange(8) * HOP
    hop = _median_of_frames(frames, centres, HOP, 7 * HOP)
    assert hop[0] >= 0.5  # on for most of the hop
    assert hop[1] < 0.1   # on for a third of it: the mean (0.3) would pass a 0.3 threshold
    assert hop[2] == 0.0


def test_a_hop_between_frame_centres_takes_its_nearest_frame():
    frames = np.eye(3, dtype=np.float32)
    centres = np.arange(3) * HOP
    np.testing.assert_array_equal(_median_of_frames(frames, centres, 2100, 2300), frames[1])
