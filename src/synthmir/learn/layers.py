"""Custom Keras layers of the models, registered so a saved ``model.keras`` loads anywhere.

Importing this module is what makes :func:`keras.saving.load_model` know them.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from synthmir.errors import SynthmirError

#: Which frame :class:`FrameSelect` (the ``funnel`` model) sees.
FRAME_MODES = ("max_energy", "middle")


@keras.saving.register_keras_serializable(package="synthmir")
class HarmonicStack(layers.Layer):
    """Stack each pitch bin with the bins at fixed semitone offsets from it.

    (batch, frames, bins) → (batch, frames, bins, len(offsets)); channel ``k`` of bin ``b``
    holds bin ``b + offsets[k] * bins_per_semitone`` (zero beyond either end; offsets may
    be negative).
    """

    def __init__(self, offsets: list[int], bins_per_semitone: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.offsets = [int(o) for o in offsets]
        self.bins_per_semitone = int(bins_per_semitone)

    def call(self, x):
        bins = x.shape[-1]
        shifts = [o * self.bins_per_semitone for o in self.offsets]
        below, above = max(0, -min(shifts)), max(0, max(shifts))
        padded = ops.pad(x, [[0, 0], [0, 0], [below, above]])
        return ops.stack([padded[..., below + s : below + s + bins] for s in shifts], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape, len(self.offsets))

    def get_config(self):
        return {
            **super().get_config(),
            "offsets": self.offsets,
            "bins_per_semitone": self.bins_per_semitone,
        }


@keras.saving.register_keras_serializable(package="synthmir")
class PitchPosition(layers.Layer):
    """Append the bin's position along pitch as a channel: (batch, bins, c) → (.., c + 1).

    Pooling over pitch makes the features pitch-invariant; this channel lets a kernel
    respond differently in different registers (sampled instruments change timbre across
    their range), so the pooled features still carry the register. Positions run from -1
    (lowest bin) to 1 (highest).
    """

    def call(self, x):
        bins = x.shape[1]
        position = ops.reshape(ops.linspace(-1.0, 1.0, bins), (1, bins, 1))
        position = ops.broadcast_to(ops.cast(position, x.dtype), (ops.shape(x)[0], bins, 1))
        return ops.concatenate([x, position], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def pitch_class_membership(bins: int, lowest_pitch: float, bins_per_semitone: int
                           ) -> np.ndarray:
    """float32 (bins, 12): 1 where bin ``j`` (MIDI ``lowest_pitch + j / b``) has pitch class
    ``round(pitch) % 12`` (C = 0)."""
    pitch = lowest_pitch + np.arange(bins) / bins_per_semitone
    return np.eye(12, dtype="float32")[np.rint(pitch).astype(int) % 12]


@keras.saving.register_keras_serializable(package="synthmir")
class OctaveFold(layers.Layer):
    """Fold pitch bins into the 12 pitch classes: (batch, ..., bins) → (batch, ..., 12).

    Bin ``j`` is MIDI pitch ``lowest_pitch + j / bins_per_semitone`` and goes to pitch class
    ``round(pitch) % 12`` (C = 0). ``reduce`` is ``max`` (the strongest octave) or ``sum``.
    """

    def __init__(self, lowest_pitch: float, bins_per_semitone: int = 1, reduce: str = "max",
                 **kwargs):
        super().__init__(**kwargs)
        if reduce not in ("max", "sum"):
            raise SynthmirError(f"OctaveFold reduce must be max or sum, got {reduce!r}")
        self.lowest_pitch = float(lowest_pitch)
        self.bins_per_semitone = int(bins_per_semitone)
        self.reduce = reduce

    def call(self, x):
        member = pitch_class_membership(x.shape[-1], self.lowest_pitch, self.bins_per_semitone)
        if self.reduce == "sum":
            return ops.matmul(x, ops.convert_to_tensor(member, dtype=x.dtype))
        # max over the bins of each class: the other classes' bins are pushed far below
        offset = ops.convert_to_tensor((member - 1.0) * 1e9, dtype=x.dtype)
        return ops.max(ops.expand_dims(x, -1) + offset, axis=-2)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 12)

    def get_config(self):
        return {**super().get_config(), "lowest_pitch": self.lowest_pitch,
                "bins_per_semitone": self.bins_per_semitone, "reduce": self.reduce}


@keras.saving.register_keras_serializable(package="synthmir")
class ChromaMean(layers.Layer):
    """The non-learned chroma baseline: (batch, frames, bins) raw pitchgram → (batch, 12).

    Pitchgram values (dB mapped so ``floor_db`` → 0 and 0 dB → 1) go back to linear
    magnitude, are summed per pitch class over octaves, averaged over frames and divided by
    the clip's largest class, so the strongest pitch class is 1. (Of power, magnitude and
    the dB values, magnitude gave the best tuned exact match on the validation split.)
    """

    def __init__(self, lowest_pitch: float, bins_per_semitone: int = 1,
                 floor_db: float = -120.0, **kwargs):
        super().__init__(**kwargs)
        self.lowest_pitch = float(lowest_pitch)
        self.bins_per_semitone = int(bins_per_semitone)
        self.floor_db = float(floor_db)

    def call(self, x):
        # value v is v * -floor + floor dB of power, i.e. half that in dB of magnitude
        magnitude = ops.power(10.0, (x * -self.floor_db + self.floor_db) / 20.0)
        member = pitch_class_membership(x.shape[-1], self.lowest_pitch, self.bins_per_semitone)
        chroma = ops.mean(ops.matmul(magnitude, ops.convert_to_tensor(member, x.dtype)), axis=1)
        return chroma / (ops.max(chroma, axis=-1, keepdims=True) + 1e-12)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 12)

    def get_config(self):
        return {**super().get_config(), "lowest_pitch": self.lowest_pitch,
                "bins_per_semitone": self.bins_per_semitone, "floor_db": self.floor_db}


@keras.saving.register_keras_serializable(package="synthmir")
class FrameSelect(layers.Layer):
    """One frame of each clip: (batch, frames, bins) → (batch, bins).

    ``middle``: the middle frame; ``max_energy``: the frame with the largest sum over bins
    (with chord clips, the attack: the middle of a 2-s clip is already in the release).
    """

    def __init__(self, mode: str = "max_energy", **kwargs):
        super().__init__(**kwargs)
        if mode not in FRAME_MODES:
            raise SynthmirError(f"frame must be one of {list(FRAME_MODES)}, got {mode!r}")
        self.mode = mode

    def call(self, x):
        if self.mode == "middle":
            return x[:, x.shape[1] // 2, :]
        index = ops.argmax(ops.sum(x, axis=-1), axis=-1)
        return ops.sum(x * ops.expand_dims(ops.one_hot(index, x.shape[1], dtype=x.dtype), -1),
                       axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="synthmir")
class F0Candidates(layers.Layer):
    """The ``k`` likeliest fundamentals of every step, each with its harmonic stack.

    (batch, steps, bins, channels) harmonic stack → (batch, steps, k, channels + 2). A
    bin's salience is the sum of its ``salience_channels`` (its harmonics); the ``k`` most
    salient of the first ``fundamental_bins`` bins are kept, in order of salience, each
    with its position along pitch (-1 lowest .. 1 highest fundamental bin) and its rank
    (0 .. 1). Looking at a few candidates instead of every bin is what makes a wide
    per-candidate network affordable: the work no longer grows with the pitch range.
    """

    def __init__(self, k: int, fundamental_bins: int, salience_channels: list[int], **kwargs):
        super().__init__(**kwargs)
        self.k = int(k)
        self.fundamental_bins = int(fundamental_bins)
        self.salience_channels = [int(c) for c in salience_channels]

    def call(self, stack):
        stack = stack[:, :, : self.fundamental_bins, :]
        salience = ops.sum(ops.take(stack, self.salience_channels, axis=-1), axis=-1)
        _, top = ops.top_k(salience, self.k)  # (batch, steps, k)
        picked = ops.take_along_axis(stack, ops.expand_dims(top, -1), axis=2)
        position = ops.cast(top, stack.dtype) * (2.0 / max(1, self.fundamental_bins - 1)) - 1.0
        rank = ops.reshape(ops.cast(ops.linspace(0.0, 1.0, self.k), stack.dtype),
                           (1, 1, self.k))
        rank = ops.broadcast_to(rank, ops.shape(position))
        return ops.concatenate(
            [picked, ops.expand_dims(position, -1), ops.expand_dims(rank, -1)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.k, input_shape[3] + 2)

    def get_config(self):
        return {**super().get_config(), "k": self.k, "fundamental_bins": self.fundamental_bins,
                "salience_channels": self.salience_channels}
