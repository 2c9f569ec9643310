"""How a frame-level model's frames become one decision per hop."""

from __future__ import annotations

import numpy as np

from synthmir.infer.classify import Classifier
from synthmir.infer.windows import _median_of_frames, frame_probabilities
from tests.toy_model import make_toy_model, sine

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


def _rising_scale(seconds_per_note: float = 0.3) -> np.ndarray:
    """A louder note every step, so every frame differs from the next."""
    notes = [sine(seconds_per_note, freq=220 * 2 ** (k / 12), amplitude=0.05 * (k + 1))
             for k in range(6)]
    return np.concatenate(notes)


def test_passes_decide_frames_a_fraction_of_a_hop_apart(tmp_path):
    classifier = Classifier.load(make_toy_model(tmp_path / "toy", frame_level=True))
    audio = _rising_scale()
    frames, centres = frame_probabilities(classifier, audio, passes=4)
    one_pass, one_centres = frame_probabilities(classifier, audio, passes=1)

    np.testing.assert_array_equal(centres, np.arange(len(centres)) * HOP / 4)
    np.testing.assert_array_equal(one_centres, centres[::4])
    # this toy reads each frame alone: the unshifted pass is exactly the one-pass frames
    np.testing.assert_allclose(frames[::4], one_pass, atol=1e-6)
    assert not np.allclose(frames[1:], frames[:-1], atol=1e-3)

    # audio a quarter hop later: every decision moves one frame later, the same as before
    later, later_centres = frame_probabilities(
        classifier, np.concatenate([np.zeros(HOP // 4, np.float32), audio]), passes=4)
    np.testing.assert_array_equal(later_centres[: len(centres)], centres)
    np.testing.assert_allclose(later[1 : len(frames)], frames[:-1], atol=1e-5)


def test_a_long_recording_decided_in_chunks_gets_the_frames_of_one_piece(tmp_path):
    # each frame read with the 4 frames on either side: context that crosses chunk edges
    classifier = Classifier.load(make_toy_model(tmp_path / "toy", frame_level=True,
                                                time_kernel=9))
    audio = np.tile(_rising_scale(), 3)  # 5.4 s: five 1-s chunks and the rest
    whole, whole_centres = frame_probabilities(classifier, audio, chunk_seconds=60.0)
    parts, centres = frame_probabilities(classifier, audio, chunk_seconds=1.0)
    np.testing.assert_array_equal(centres, whole_centres)
    np.testing.assert_allclose(parts, whole, atol=1e-5)
