"""The custom Keras layers: harmonic stacking, octave folding, frame selection."""

import keras
import numpy as np
import pytest

from synthmir.learn.layers import F0Candidates, FrameSelect, HarmonicStack, OctaveFold


def test_harmonic_stack_shifts_by_semitone_offsets():
    x = np.arange(2 * 3 * 10, dtype=np.float32).reshape(2, 3, 10)
    out = keras.ops.convert_to_numpy(HarmonicStack([0, 2, 5], bins_per_semitone=1)(x))
    assert out.shape == (2, 3, 10, 3)
    np.testing.assert_array_equal(out[..., 0], x)
    np.testing.assert_array_equal(out[..., :8, 1], x[..., 2:])
    np.testing.assert_array_equal(out[..., 8:, 1], 0.0)
    np.testing.assert_array_equal(out[..., :5, 2], x[..., 5:])


def test_harmonic_stack_scales_offsets_to_bins():
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 12)
    out = keras.ops.convert_to_numpy(HarmonicStack([1], bins_per_semitone=3)(x))
    np.testing.assert_array_equal(out[0, 0, :9, 0], x[0, 0, 3:])


def test_octave_fold_maps_bins_to_pitch_classes():
    x = np.zeros((1, 115), np.float32)
    x[0, 39] = 5.0  # bin 39 is MIDI 60, a C
    x[0, 40 + 12] = 2.0  # MIDI 73, a C#
    folded = np.asarray(OctaveFold(21.0)(x))[0]
    assert folded[0] == 5.0 and folded[1] == 2.0 and not folded[2:].any()
    # three bins a semitone: bin j is MIDI 21 + j / 3, given to the nearest semitone
    fine = np.zeros((1, 345), np.float32)
    fine[0, [117, 118, 119]] = [1.0, 2.0, 4.0]  # MIDI 60, 60.33 (a C), 60.67 (a C#)
    summed = np.asarray(OctaveFold(21.0, 3, "sum")(fine))[0]
    assert summed[0] == 3.0 and summed[1] == 4.0


def test_harmonic_stack_takes_negative_offsets():
    x = np.arange(10, dtype=np.float32).reshape(1, 1, 10)
    out = np.asarray(HarmonicStack([-2, 0, 3])(x))[0, 0]
    np.testing.assert_array_equal(out[:, 0], [0, 0, 0, 1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(out[:, 1], np.arange(10))
    np.testing.assert_array_equal(out[:, 2], [3, 4, 5, 6, 7, 8, 9, 0, 0, 0])


@pytest.mark.parametrize(("mode", "frame"), [("middle", 2), ("max_energy", 1)])
def test_funnel_sees_one_frame(mode, frame):
    x = np.zeros((1, 5, 6), np.float32)
    x[0, 1] = 3.0  # the loudest frame
    x[0, 2] = np.arange(6)
    np.testing.assert_array_equal(np.asarray(FrameSelect(mode)(x))[0], x[0, frame])


def test_f0_candidates_keep_the_most_salient_fundamentals():
    stack = np.zeros((1, 2, 6, 3), dtype="float32")
    stack[0, 0, 4, :] = [1, 1, 1]   # most salient, but beyond the fundamental bins
    stack[0, 0, 2, :] = [1, 1, 0]
    stack[0, 0, 1, :] = [0.5, 0, 5]  # channel 2 is not counted for salience
    stack[0, 1, 0, :] = [0.2, 0, 0]
    out = np.asarray(F0Candidates(2, 4, [0, 1])(stack))
    assert out.shape == (1, 2, 2, 5)
    np.testing.assert_allclose(out[0, 0, 0, :3], [1, 1, 0])   # bin 2 first
    np.testing.assert_allclose(out[0, 0, 1, :3], [0.5, 0, 5])  # then bin 1
    np.testing.assert_allclose(out[0, 0, :, 3], [2 * 2 / 3 - 1, 1 * 2 / 3 - 1], atol=1e-6)
    np.testing.assert_allclose(out[0, 0, :, 4], [0, 1])  # rank
    np.testing.assert_allclose(out[0, 1, 0, :3], [0.2, 0, 0])
