"""Keras models built from a model's ``architecture`` config.

Inputs are pitchgrams of shape (frames, bins): frames at the feature hop (46 ms for the
defaults), bins in semitones. Two kinds:

- ``baseline``: the original Conv2D net (four blocks of two [Conv2D 3×3 → BatchNorm → ELU],
  2×2 max pooling and dropout, flatten, dense, BatchNorm, output activation).
- ``pitchconv`` (default): built for single sources on CPU. Timbre lives on the pitch axis
  as the amplitude pattern of the harmonics above the fundamental and in how it evolves.
  The net averages time into a few steps, stacks each bin with the bins of its harmonics
  (+12, +19, +24, ... semitones) as channels, so a kernel at the fundamental sees the whole
  harmonic pattern and envelope at once, then runs Conv1D blocks along pitch and pools over
  pitch (max), which makes it invariant to the played pitch. 1-D convolutions over
  115 positions cost a fraction of the 2-D ones over 44 × 115.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from synthmir.errors import SynthmirError

# Semitone offsets of harmonics 1..8 above the fundamental: round(12 log2 h).
HARMONICS = [0, 12, 19, 24, 28, 31, 34, 36]

ARCHITECTURES: dict[str, dict] = {
    "baseline": {
        "filters": [32, 64, 64, 64],  # filters per block
        "convs_per_block": 2,  # [Conv2D → BatchNorm → ELU] repeats per block
        "kernel_size": 3,  # square Conv2D kernel, frames × bins
        "pool": 2,  # square max pooling after each block
        "dropout": 0.1,  # dropout after each block
        "dense": [],  # hidden dense sizes before the output layer
    },
    "pitchconv": {
        "time_pool": 4,  # average this many frames into one step before the convolutions
        "harmonics": HARMONICS,  # semitone offsets stacked as channels; [] stacks nothing
        "position": True,  # append the bin position as a channel (register-aware kernels)
        "filters": [64, 64],  # Conv1D filters per block, along pitch
        "kernel_size": 3,  # Conv1D kernel along pitch, bins
        "pool": 1,  # max pooling along pitch after each block but the last (1 = none)
        "dropout": 0.1,  # dropout before the output layer
        "global_pool": "max",  # pooling over pitch after the blocks: max, avg or maxavg
        "dense": [64],  # hidden dense sizes
    },
}


def architecture_config(architecture: dict) -> dict:
    """Complete an ``architecture`` config with the defaults of its kind.

    Parameters
    ----------
    architecture : dict
        ``kind`` plus any of that kind's keys (see :data:`ARCHITECTURES`).

    Returns
    -------
    dict
        Every key of the kind, given values overriding the defaults.

    Raises
    ------
    SynthmirError
        On an unknown kind or key.
    """
    kind = architecture.get("kind", "pitchconv")
    if kind not in ARCHITECTURES:
        raise SynthmirError(
            f"unknown architecture kind {kind!r}; known: {sorted(ARCHITECTURES)}"
        )
    defaults = ARCHITECTURES[kind]
    unknown = sorted(set(architecture) - set(defaults) - {"kind"})
    if unknown:
        raise SynthmirError(
            f"unknown architecture option(s) {unknown} for kind {kind!r};"
            f" known: {sorted(defaults)}"
        )
    cfg = {"kind": kind, **defaults, **architecture}
    if cfg.get("global_pool", "max") not in ("max", "avg", "maxavg"):
        raise SynthmirError(
            f"architecture global_pool={cfg['global_pool']!r} must be max, avg or maxavg"
        )
    return cfg


@keras.saving.register_keras_serializable(package="synthmir")
class HarmonicStack(layers.Layer):
    """Stack each pitch bin with the bins at fixed semitone offsets above it.

    (batch, frames, bins) → (batch, frames, bins, len(offsets)); channel ``k`` of bin ``b``
    holds bin ``b + offsets[k] * bins_per_semitone`` (zero above the top bin).
    """

    def __init__(self, offsets: list[int], bins_per_semitone: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.offsets = [int(o) for o in offsets]
        self.bins_per_semitone = int(bins_per_semitone)

    def call(self, x):
        bins = x.shape[-1]
        shifts = [o * self.bins_per_semitone for o in self.offsets]
        padded = ops.pad(x, [[0, 0], [0, 0], [0, max(shifts)]])
        return ops.stack([padded[..., s : s + bins] for s in shifts], axis=-1)

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


def _output(x, n_outputs: int, multilabel: bool, batchnorm: bool):
    x = layers.Dense(n_outputs, name="logits")(x)
    if batchnorm:
        x = layers.BatchNormalization(name="logits_bn")(x)
    return layers.Activation("sigmoid" if multilabel else "softmax", name="probabilities")(x)


def _baseline(inputs, cfg: dict, n_outputs: int, multilabel: bool):
    x = layers.Reshape((*inputs.shape[1:], 1))(inputs)
    for block, filters in enumerate(cfg["filters"]):
        for conv in range(cfg["convs_per_block"]):
            name = f"block{block + 1}_conv{conv + 1}"
            x = layers.Conv2D(filters, cfg["kernel_size"], padding="same", name=name)(x)
            x = layers.BatchNormalization(name=f"{name}_bn")(x)
            x = layers.Activation("elu")(x)
        x = layers.MaxPooling2D(cfg["pool"])(x)
        x = layers.Dropout(cfg["dropout"])(x)
    x = layers.Flatten()(x)
    for size in cfg["dense"]:
        x = layers.Dense(size, activation="elu")(x)
    return _output(x, n_outputs, multilabel, batchnorm=True)


def _pitchconv(inputs, cfg: dict, n_outputs: int, multilabel: bool, bins_per_semitone: int):
    frames, bins = inputs.shape[1:]
    x = inputs
    if cfg["time_pool"] > 1:
        # Pooling over frames with bins as channels; "same" keeps a partial last step.
        x = layers.AveragePooling1D(cfg["time_pool"], padding="same", name="time_pool")(x)
        frames = x.shape[1]
    channels = 1
    if cfg["harmonics"]:
        x = HarmonicStack(cfg["harmonics"], bins_per_semitone, name="harmonics")(x)
        channels = len(cfg["harmonics"])
    else:
        x = layers.Reshape((frames, bins, 1))(x)
    # (frames, bins, harmonics) → (bins, frames × harmonics): time steps and harmonics
    # become the channels of a 1-D signal along pitch.
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((bins, frames * channels))(x)
    if cfg["position"]:
        x = PitchPosition(name="position")(x)
    last = len(cfg["filters"]) - 1
    for block, filters in enumerate(cfg["filters"]):
        name = f"block{block + 1}"
        x = layers.Conv1D(filters, cfg["kernel_size"], padding="same", name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        x = layers.Activation("elu")(x)
        if cfg["pool"] > 1 and block < last:
            x = layers.MaxPooling1D(cfg["pool"], padding="same")(x)
    pooled = []
    if cfg["global_pool"] in ("max", "maxavg"):
        pooled.append(layers.GlobalMaxPooling1D(name="pitch_max")(x))
    if cfg["global_pool"] in ("avg", "maxavg"):
        pooled.append(layers.GlobalAveragePooling1D(name="pitch_avg")(x))
    x = pooled[0] if len(pooled) == 1 else layers.Concatenate()(pooled)
    for size in cfg["dense"]:
        x = layers.Dense(size)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("elu")(x)
    # One dropout, right before the output layer: dropout feeding a BatchNormalization
    # makes its moving variance (measured with dropout) wrong at inference, which showed
    # as validation losses jumping between epochs.
    x = layers.Dropout(cfg["dropout"])(x)
    return _output(x, n_outputs, multilabel, batchnorm=False)


def build_model(
    architecture: dict,
    input_shape: tuple[int, int],
    n_outputs: int,
    multilabel: bool = False,
    bins_per_semitone: int = 1,
) -> keras.Model:
    """Build an uncompiled model from an ``architecture`` config.

    Parameters
    ----------
    architecture : dict
        ``kind`` (``pitchconv`` or ``baseline``) and that kind's options; missing ones take
        the defaults in :data:`ARCHITECTURES`.
    input_shape : tuple of int
        (frames, bins) of one pitchgram.
    n_outputs : int
        Number of classes (softmax) or labels (sigmoid).
    multilabel : bool
        Sigmoid outputs (independent labels, e.g. pitch classes) instead of a softmax.
    bins_per_semitone : int
        Pitch resolution of the input, so harmonic offsets in semitones map to bins.

    Returns
    -------
    keras.Model
        Maps (batch, frames, bins) float32 to (batch, n_outputs) probabilities.

    Raises
    ------
    SynthmirError
        On an unknown kind or option.
    """
    cfg = architecture_config(architecture)
    inputs = keras.Input(shape=tuple(input_shape), name="pitchgram")
    if cfg["kind"] == "baseline":
        outputs = _baseline(inputs, cfg, n_outputs, multilabel)
    else:
        outputs = _pitchconv(inputs, cfg, n_outputs, multilabel, bins_per_semitone)
    return keras.Model(inputs, outputs, name=cfg["kind"])
