"""Training batches: seeded order and augmentation, pitch shifts that move the labels."""

import numpy as np

from synthmir.learn.batches import ClipBatches
from synthmir.learn.saved_model import Scaler


def test_batches_shuffle_and_shift_deterministically():
    x = np.zeros((20, 2, 10), np.float32)
    x[:, :, 4] = 1.0
    labels = np.arange(20)
    make = lambda: ClipBatches(x, np.arange(20), labels, 8, Scaler(), seed=1, pitch_shift=2)  # noqa: E731
    a, b = make(), make()
    xa, ya = a[0]
    xb, yb = b[0]
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    peaks = xa.argmax(axis=2)
    assert set(np.unique(peaks)) <= {2, 3, 4, 5, 6} and len(np.unique(peaks)) > 1
    assert sorted(np.concatenate([a[i][1] for i in range(len(a))])) == list(range(20))
    a.on_epoch_end()
    assert not np.array_equal(a[0][1], ya)
    plain = ClipBatches(x, np.arange(20), labels, 8, Scaler())
    np.testing.assert_array_equal(plain[0][0], x[:8])


def test_pitch_shift_moves_pitch_class_labels_with_the_pitch():
    x = np.zeros((32, 2, 40), np.float32)
    x[:, :, [12, 16, 19]] = 1.0  # bins of C E G when bin 0 is a C
    y = np.zeros((32, 12), np.float32)
    y[:, [0, 4, 7]] = 1.0
    batches = ClipBatches(x, np.arange(32), y, 32, Scaler(), seed=2, pitch_shift=3,
                          shift_labels=1)
    xb, yb = batches[0]
    shifts = xb[:, 0].argmax(axis=1) - 12
    assert len(set(shifts)) > 1
    for shift, labels in zip(shifts, yb, strict=True):
        assert set(np.flatnonzero(labels)) == {(0 + shift) % 12, (4 + shift) % 12,
                                               (7 + shift) % 12}
