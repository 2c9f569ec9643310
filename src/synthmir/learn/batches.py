"""Training batches: rows of a feature file in a seeded order, augmented, standardised.

Order and augmentation draws depend on (seed, epoch, batch) only, so a run is reproducible
whatever the number of threads. Augmentation shifts pitchgrams along pitch (moving
pitch-class labels with them) and changes their level, in numpy, on each batch.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from synthmir.learn.saved_model import Scaler


class ClipBatches(keras.utils.PyDataset):
    """Batches of (pitchgrams, labels) read by row from an HDF5 dataset or an array.

    Parameters
    ----------
    source : FeatureStore or numpy.ndarray
        (n_clips, frames, bins) raw features; rows are read with sorted index arrays,
        which both support (a store reads them from disk: a dataset larger than memory
        trains).
    rows : numpy.ndarray
        Rows of ``source`` in this split.
    labels : numpy.ndarray
        Labels of ``rows``: int class indices (n,), float multi-hot (n, labels) or frame
        labels (n, frames, 12).
    batch_size : int
    scaler : Scaler
    seed : int or None
        Shuffle and augment with this seed (order and draws depend on seed, epoch and
        batch only, so they do not depend on threads); None: fixed order, no augmentation.
    pitch_shift : int
        Maximum shift along pitch, bins.
    shift_labels : int
        0, or the bins per semitone of multi-hot pitch-class labels: then shifts are whole
        semitones and each clip's pitch classes move with its pitch (a C major chord
        shifted up two semitones is labelled D major).
    gain : float
        Maximum level change in feature units (1 = the feature's full dB range).
    notes : numpy.ndarray, optional
        Note labels of ``rows`` at every (frame, bin), (n, frames, bins): shifted with the
        features, and yielded as a second target after ``labels``.
    """

    def __init__(
        self,
        source,
        rows: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        scaler: Scaler,
        seed: int | None = None,
        pitch_shift: int = 0,
        gain: float = 0.0,
        shift_labels: int = 0,
        notes: np.ndarray | None = None,
    ):
        super().__init__()
        self.source = source
        self.rows = np.asarray(rows)
        self.labels = labels
        self.batch_size = batch_size
        self.scaler = scaler
        self.seed = seed
        self.pitch_shift = pitch_shift
        self.gain = gain
        self.shift_labels = shift_labels
        self.notes = notes
        self.epoch = 0
        self.order = self._order()

    def _order(self) -> np.ndarray:
        if self.seed is None:
            return np.arange(len(self.rows))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.rows))

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)

    def __getitem__(self, index: int):
        picked = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        x = np.asarray(self.source[self.rows[picked]], dtype=np.float32)
        y = self.labels[picked]
        notes = None if self.notes is None else self.notes[picked].astype(np.float32)
        if self.seed is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            x, y, notes = self._augment(x, y, notes, rng)
        return self.scaler(x), (y if notes is None else (y, notes))

    def _augment(self, x: np.ndarray, y: np.ndarray, notes: np.ndarray | None,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        n, _, bins = x.shape
        if self.pitch_shift:
            if self.shift_labels:
                semitones = self.pitch_shift // self.shift_labels
                steps = rng.integers(-semitones, semitones + 1, size=n)
                shift = steps * self.shift_labels
                classes = (np.arange(12)[None, :] - steps[:, None]) % 12
                # clip labels (n, 12) or frame labels (n, frames, 12)
                y = np.take_along_axis(y, classes.reshape(n, *[1] * (y.ndim - 2), 12), axis=-1)
            else:
                shift = rng.integers(-self.pitch_shift, self.pitch_shift + 1, size=n)
            src = np.arange(bins)[None, :] - shift[:, None]
            inside = (src >= 0) & (src < bins)

            def shifted(a: np.ndarray) -> np.ndarray:  # bins moved up by `shift`, zeros in
                return np.take_along_axis(a, np.clip(src, 0, bins - 1)[:, None, :], axis=2
                                          ) * inside[:, None, :]

            x = shifted(x)
            if notes is not None:
                notes = shifted(notes)
        if self.gain:
            delta = rng.uniform(-self.gain, self.gain, size=(n, 1, 1)).astype(np.float32)
            # Silence stays at the floor (0); everything else moves in dB, clipped to range.
            x = np.where(x > 0, np.clip(x + delta, 0.0, 1.0), 0.0).astype(np.float32)
        return x, y, notes

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order()
